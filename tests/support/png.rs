//! Enough of a PNG decoder to look at a screenshot's pixels, since no image crate is among
//! the dependencies: the chunks (CRC-checked), zlib (Adler-checked) with all three kinds of
//! DEFLATE block, and the five scanline filters, for 8-bit greyscale, grey+alpha, RGB and
//! RGBA without interlacing — what Chromium writes. Anything else is an error, not a guess.

#![allow(dead_code)]

use std::collections::HashMap;

#[derive(Debug)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    /// Bytes per pixel: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA.
    pub channels: usize,
    /// Rows top to bottom, `width * channels` bytes each.
    pub pixels: Vec<u8>,
}

impl Image {
    /// How many pixels have each colour, the most common first (ties in byte order).
    pub fn colours(&self) -> Vec<(Vec<u8>, usize)> {
        let mut counts: HashMap<&[u8], usize> = HashMap::new();
        for px in self.pixels.chunks_exact(self.channels) {
            *counts.entry(px).or_default() += 1;
        }
        let mut colours: Vec<(Vec<u8>, usize)> =
            counts.into_iter().map(|(c, n)| (c.to_vec(), n)).collect();
        colours.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        colours
    }

    /// The share of pixels that are not the most common colour (0 for a blank page).
    pub fn share_not_background(&self) -> f64 {
        let total = (self.width as usize * self.height as usize).max(1);
        let top = self.colours().first().map_or(0, |c| c.1);
        (total - top) as f64 / total as f64
    }
}

pub fn decode_file(path: &std::path::Path) -> Result<Image, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    decode(&bytes)
}

pub fn decode(bytes: &[u8]) -> Result<Image, String> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !bytes.starts_with(SIGNATURE) {
        return Err("not a PNG (signature)".into());
    }
    let mut pos = SIGNATURE.len();
    let mut header = None;
    let mut idat = Vec::new();
    let mut ended = false;
    while pos + 12 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &bytes[pos + 4..pos + 8];
        let end = pos + 8 + len;
        if end + 4 > bytes.len() {
            return Err(format!(
                "chunk {} runs past the file",
                String::from_utf8_lossy(kind)
            ));
        }
        let data = &bytes[pos + 8..end];
        let crc = u32::from_be_bytes(bytes[end..end + 4].try_into().unwrap());
        if crc32(&bytes[pos + 4..end]) != crc {
            return Err(format!(
                "bad CRC in chunk {}",
                String::from_utf8_lossy(kind)
            ));
        }
        match kind {
            b"IHDR" => {
                if data.len() != 13 {
                    return Err("IHDR of the wrong size".into());
                }
                header = Some((
                    u32::from_be_bytes(data[0..4].try_into().unwrap()),
                    u32::from_be_bytes(data[4..8].try_into().unwrap()),
                    data[8],
                    data[9],
                    data[12],
                ));
            }
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => {
                ended = true;
                break;
            }
            _ => {}
        }
        pos = end + 4;
    }
    if !ended {
        return Err("no IEND chunk (truncated file?)".into());
    }
    let (width, height, depth, colour, interlace) = header.ok_or("no IHDR chunk")?;
    let channels = match colour {
        0 => 1,
        4 => 2,
        2 => 3,
        6 => 4,
        other => return Err(format!("colour type {other} not supported")),
    };
    if depth != 8 || interlace != 0 {
        return Err(format!(
            "bit depth {depth} / interlace {interlace} not supported"
        ));
    }
    let raw = zlib(&idat)?;
    let stride = width as usize * channels;
    if raw.len() != (stride + 1) * height as usize {
        return Err(format!(
            "image data is {} bytes, {width}×{height}×{channels} needs {}",
            raw.len(),
            (stride + 1) * height as usize
        ));
    }
    let mut pixels = vec![0u8; stride * height as usize];
    for y in 0..height as usize {
        let filter = raw[y * (stride + 1)];
        let line = &raw[y * (stride + 1) + 1..(y + 1) * (stride + 1)];
        for x in 0..stride {
            let a = if x >= channels {
                pixels[y * stride + x - channels]
            } else {
                0
            };
            let b = if y > 0 {
                pixels[(y - 1) * stride + x]
            } else {
                0
            };
            let c = if y > 0 && x >= channels {
                pixels[(y - 1) * stride + x - channels]
            } else {
                0
            };
            let predicted = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((a as u16 + b as u16) / 2) as u8,
                4 => paeth(a, b, c),
                other => return Err(format!("filter type {other} on row {y}")),
            };
            pixels[y * stride + x] = line[x].wrapping_add(predicted);
        }
    }
    Ok(Image {
        width,
        height,
        channels,
        pixels,
    })
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = a as i16 + b as i16 - c as i16;
    let (pa, pb, pc) = (
        (p - a as i16).abs(),
        (p - b as i16).abs(),
        (p - c as i16).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zlib stream: its two-byte header, DEFLATE data, and the Adler-32 of what it inflates to.
fn zlib(data: &[u8]) -> Result<Vec<u8>, String> {
    if data.len() < 6
        || data[0] & 0x0F != 8
        || (u16::from(data[0]) << 8 | u16::from(data[1])) % 31 != 0
    {
        return Err("not a zlib stream".into());
    }
    if data[1] & 0x20 != 0 {
        return Err("zlib preset dictionary not supported".into());
    }
    let mut bits = Bits {
        data,
        pos: 2,
        bit: 0,
    };
    let out = inflate(&mut bits)?;
    let at = bits.pos + usize::from(bits.bit > 0);
    let stored = data
        .get(at..at + 4)
        .ok_or("zlib stream without its Adler-32")?;
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &out {
        a = (a + byte as u32) % 65521;
        b = (b + a) % 65521;
    }
    if (b << 16 | a).to_be_bytes() != stored {
        return Err("bad Adler-32 of the image data".into());
    }
    Ok(out)
}

/// DEFLATE's bit reader: least significant bit first.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    bit: u32,
}

impl Bits<'_> {
    fn bit(&mut self) -> Result<u32, String> {
        let byte = *self.data.get(self.pos).ok_or("DEFLATE data ends early")?;
        let v = (byte >> self.bit) & 1;
        self.bit += 1;
        if self.bit == 8 {
            self.bit = 0;
            self.pos += 1;
        }
        Ok(v as u32)
    }

    fn bits(&mut self, n: u32) -> Result<u32, String> {
        let mut v = 0;
        for i in 0..n {
            v |= self.bit()? << i;
        }
        Ok(v)
    }

    fn align(&mut self) {
        if self.bit > 0 {
            self.bit = 0;
            self.pos += 1;
        }
    }
}

/// A canonical Huffman code as counts of codes per length and symbols in code order.
struct Huffman {
    counts: [u16; 16],
    symbols: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Huffman {
        let mut counts = [0u16; 16];
        for &l in lengths {
            counts[l as usize] += 1;
        }
        counts[0] = 0;
        let mut offsets = [0u16; 16];
        for len in 1..16 {
            offsets[len] = offsets[len - 1] + counts[len - 1];
        }
        let mut symbols = vec![0u16; lengths.len()];
        for (sym, &l) in lengths.iter().enumerate() {
            if l != 0 {
                symbols[offsets[l as usize] as usize] = sym as u16;
                offsets[l as usize] += 1;
            }
        }
        Huffman { counts, symbols }
    }

    fn decode(&self, bits: &mut Bits) -> Result<u16, String> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= bits.bit()? as i32;
            let count = self.counts[len] as i32;
            if code - count < first {
                return self
                    .symbols
                    .get((index + code - first) as usize)
                    .copied()
                    .ok_or_else(|| "bad Huffman code".to_string());
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err("bad Huffman code".into())
    }
}

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

fn inflate(bits: &mut Bits) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let last = bits.bit()?;
        match bits.bits(2)? {
            0 => {
                bits.align();
                let at = bits.pos;
                let header = bits.data.get(at..at + 4).ok_or("stored block cut short")?;
                let len = u16::from_le_bytes([header[0], header[1]]);
                let nlen = u16::from_le_bytes([header[2], header[3]]);
                if len != !nlen {
                    return Err("stored block length check fails".into());
                }
                let body = bits
                    .data
                    .get(at + 4..at + 4 + len as usize)
                    .ok_or("stored block cut short")?;
                out.extend_from_slice(body);
                bits.pos = at + 4 + len as usize;
            }
            1 => {
                let mut lengths = [0u8; 288];
                lengths[..144].fill(8);
                lengths[144..256].fill(9);
                lengths[256..280].fill(7);
                lengths[280..].fill(8);
                let lit = Huffman::new(&lengths);
                let dist = Huffman::new(&[5u8; 30]);
                block(bits, &lit, &dist, &mut out)?;
            }
            2 => {
                let (lit, dist) = dynamic_codes(bits)?;
                block(bits, &lit, &dist, &mut out)?;
            }
            _ => return Err("reserved DEFLATE block type".into()),
        }
        if last == 1 {
            return Ok(out);
        }
    }
}

fn dynamic_codes(bits: &mut Bits) -> Result<(Huffman, Huffman), String> {
    const ORDER: [usize; 19] = [
        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
    ];
    let hlit = bits.bits(5)? as usize + 257;
    let hdist = bits.bits(5)? as usize + 1;
    let hclen = bits.bits(4)? as usize + 4;
    let mut cl = [0u8; 19];
    for &i in &ORDER[..hclen] {
        cl[i] = bits.bits(3)? as u8;
    }
    let cl = Huffman::new(&cl);
    let mut lengths = Vec::with_capacity(hlit + hdist);
    while lengths.len() < hlit + hdist {
        let sym = cl.decode(bits)?;
        let (value, repeat) = match sym {
            0..=15 => (sym as u8, 1),
            16 => (
                *lengths.last().ok_or("repeat with no previous length")?,
                3 + bits.bits(2)?,
            ),
            17 => (0, 3 + bits.bits(3)?),
            18 => (0, 11 + bits.bits(7)?),
            _ => return Err("bad code length symbol".into()),
        };
        for _ in 0..repeat {
            lengths.push(value);
        }
    }
    if lengths.len() != hlit + hdist {
        return Err("code lengths overrun".into());
    }
    Ok((
        Huffman::new(&lengths[..hlit]),
        Huffman::new(&lengths[hlit..]),
    ))
}

fn block(bits: &mut Bits, lit: &Huffman, dist: &Huffman, out: &mut Vec<u8>) -> Result<(), String> {
    loop {
        let sym = lit.decode(bits)? as usize;
        match sym {
            0..=255 => out.push(sym as u8),
            256 => return Ok(()),
            257..=285 => {
                let i = sym - 257;
                let len = LEN_BASE[i] as usize + bits.bits(LEN_EXTRA[i] as u32)? as usize;
                let d = dist.decode(bits)? as usize;
                if d >= 30 {
                    return Err("bad distance symbol".into());
                }
                let back = DIST_BASE[d] as usize + bits.bits(DIST_EXTRA[d] as u32)? as usize;
                if back > out.len() {
                    return Err("distance reaches before the start".into());
                }
                let start = out.len() - back;
                for k in 0..len {
                    out.push(out[start + k]);
                }
            }
            _ => return Err("bad literal/length symbol".into()),
        }
    }
}

/// A 2×2 RGB PNG written by hand with a stored (uncompressed) DEFLATE block, so the
/// decoder's own test does not depend on Chromium: filters None and Sub.
#[test]
fn decodes_a_hand_made_png() {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    // row 0, filter None: red, green; row 1, filter Sub: blue, then blue + (1,1,1).
    let raw = [0u8, 255, 0, 0, 0, 255, 0, 1, 0, 0, 255, 1, 1, 1];
    let mut z = vec![0x78, 0x01, 0x01];
    z.extend_from_slice(&(raw.len() as u16).to_le_bytes());
    z.extend_from_slice(&(!(raw.len() as u16)).to_le_bytes());
    z.extend_from_slice(&raw);
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + byte as u32) % 65521;
        b = (b + a) % 65521;
    }
    z.extend_from_slice(&(b << 16 | a).to_be_bytes());
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &[0, 0, 0, 2, 0, 0, 0, 2, 8, 2, 0, 0, 0]);
    chunk(&mut png, b"IDAT", &z);
    chunk(&mut png, b"IEND", &[]);
    let img = decode(&png).unwrap();
    assert_eq!((img.width, img.height, img.channels), (2, 2, 3));
    // (0,0,255) + (1,1,1) wraps to (1,1,0), as the filter arithmetic is modulo 256.
    assert_eq!(img.pixels, [255, 0, 0, 0, 255, 0, 0, 0, 255, 1, 1, 0]);
    assert_eq!(img.colours().len(), 4);
    let mut broken = png.clone();
    broken[40] ^= 1;
    assert!(decode(&broken).is_err(), "a flipped bit passes the CRC");
}
