//! E-mail over SMTP through lettre. `tls: none` (a local relay), `starttls` (default, port
//! 587 unless the URL says; the upgrade is required, never optional, so a relay that
//! drops STARTTLS cannot downgrade the login to plain text) or `tls` (implicit TLS, port
//! 465). The server's certificate is checked against the bundled Mozilla roots plus, with
//! `ca_file`, the PEM certificates of that file (a corporate relay's internal CA).
//! Username/password login when both are set (`${SMTP_PASSWORD}` from the environment). Each message is multipart/alternative with a plain-text part and an
//! HTML part; every text in the HTML part is HTML-escaped, so model output is shown, never
//! interpreted. A notification carrying a whole [`Mail`] (a run's summary, the digest) is
//! sent as written, to its own recipients, with its attachments (multipart/mixed). Subject: `[PROBITY CRITICAL] <summary>`, `[PROBITY RESOLVED] <summary>`
//! on resolve, prefixed with `[TEST]` for a drill. A refused or timed-out connection and
//! 4xx (transient) SMTP replies are retryable; 5xx (permanent) replies are not.

use std::time::Duration;

use futures_util::future::BoxFuture;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Redactor, neutralize, truncate};
use crate::alert::{Action, Mail, Notification, Notifier, NotifyError};
use crate::config::alerts::SmtpTls;

pub struct EmailConfig<'a> {
    pub smtp: &'a str,
    pub tls: SmtpTls,
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
    pub from: &'a str,
    pub to: &'a [String],
    /// PEM bundle of extra CA certificates to trust.
    pub ca_file: Option<&'a str>,
}

pub struct Email {
    name: String,
    /// `tls: none`: a refusal asking for STARTTLS gets a hint.
    plain: bool,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    redactor: Redactor,
    timeout: Duration,
}

impl Email {
    pub(crate) fn new(
        name: &str,
        config: EmailConfig<'_>,
        timeout: Duration,
        redactor: Redactor,
    ) -> Result<Email, String> {
        let url =
            reqwest::Url::parse(config.smtp).map_err(|e| format!("`smtp` is not a URL: {e}"))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("`smtp` has no host")?
            .to_string();
        let port = url.port().unwrap_or(match config.tls {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        });
        let tls = match config.tls {
            SmtpTls::None => {
                if config.ca_file.is_some() {
                    return Err(
                        "`ca_file` is set but `tls` is `none`: nothing would check the \
                                server's certificate; set `tls: starttls` or `tls: tls`"
                            .to_string(),
                    );
                }
                Tls::None
            }
            SmtpTls::Starttls => Tls::Required(tls_parameters(&host, config.ca_file)?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters(&host, config.ca_file)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .tls(tls)
            .port(port)
            .timeout(Some(timeout));
        if let (Some(user), Some(password)) = (config.username, config.password) {
            builder = builder.credentials(Credentials::new(user.to_string(), password.to_string()));
        }
        let mut redactor = redactor;
        if let Some(p) = config.password {
            redactor = redactor.with(p);
        }
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| format!("`from` is not an address: {e}"))?;
        let to = config
            .to
            .iter()
            .enumerate()
            .map(|(i, t)| {
                t.parse()
                    .map_err(|e| format!("`to[{i}]` is not an address: {e}"))
            })
            .collect::<Result<Vec<Mailbox>, String>>()?;
        if to.is_empty() {
            return Err("`to` names no recipient".to_string());
        }
        Ok(Email {
            name: name.to_string(),
            plain: config.tls == SmtpTls::None,
            transport: builder.build(),
            from,
            to,
            redactor,
            timeout,
        })
    }

    fn message(&self, n: &Notification) -> Result<Message, NotifyError> {
        let refused = |what: String| NotifyError {
            retryable: false,
            retry_after: None,
            message: self
                .redactor
                .redact(&format!("{}: cannot build the e-mail: {what}", self.name)),
        };
        let title = match &n.mail {
            Some(mail) => truncate(&neutralize(&mail.subject).replace(['\n', '\t'], " "), 200),
            None => subject(n),
        };
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(title)
            // The same id on every resend of one notification: mail clients and
            // archives can tell a resend after a crash from a new message.
            .message_id(Some(message_id(n)));
        let own: Vec<Mailbox>;
        let to = match n.mail.as_ref().filter(|m| !m.to.is_empty()) {
            Some(mail) => {
                own = mail
                    .to
                    .iter()
                    .map(|t| t.parse().map_err(|e| refused(format!("`{t}`: {e}"))))
                    .collect::<Result<_, _>>()?;
                &own
            }
            None => &self.to,
        };
        for to in to {
            builder = builder.to(to.clone());
        }
        let body = match &n.mail {
            Some(mail) => whole_mail(mail),
            None => MultiPart::alternative_plain_html(plain(n), html(n)),
        };
        builder.multipart(body).map_err(|e| refused(e.to_string()))
    }
}

/// A [`Mail`] as MIME: multipart/alternative (plain, HTML), inside multipart/mixed with
/// each attachment when it has any. An attachment read when sent; one that is gone (a
/// report folder cleaned up before a late delivery) is named in both parts instead, so
/// the rest still arrives.
fn whole_mail(mail: &Mail) -> MultiPart {
    let (mut plain, mut html) = (mail.plain.clone(), mail.html.clone());
    let mut files = Vec::new();
    for a in &mail.attachments {
        match std::fs::read(&a.path) {
            Ok(bytes) => {
                let kind = ContentType::parse(&a.content_type).unwrap_or(ContentType::TEXT_PLAIN);
                files.push(Attachment::new(a.filename.clone()).body(bytes, kind));
            }
            Err(e) => {
                let note = format!(
                    "(The attachment {} could not be read when this was sent: {e}.)",
                    a.path.display()
                );
                plain.push_str(&format!("\n{note}\n"));
                let p = format!("<p>{}</p>\n", escape_html(&note));
                html = match html.rfind("</body>") {
                    Some(at) => format!("{}{p}{}", &html[..at], &html[at..]),
                    None => html + &p,
                };
            }
        }
    }
    let alternative = MultiPart::alternative_plain_html(plain, html);
    if files.is_empty() {
        return alternative;
    }
    files
        .into_iter()
        .fold(MultiPart::mixed().multipart(alternative), |m, f| {
            m.singlepart(f)
        })
}

/// TLS towards `host` (the name its certificate must carry), trusting the default roots
/// and those of `ca_file`.
fn tls_parameters(host: &str, ca_file: Option<&str>) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(host.to_string());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("`ca_file` {path}: {e}"))?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| format!("`ca_file` {path}: not PEM certificates: {e}"))?;
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(format!("`ca_file` {path}: holds no PEM certificate"));
        }
        builder = builder.add_root_certificate(cert);
    }
    builder.build().map_err(|e| format!("TLS setup: {e}"))
}

/// `<delivery_id@probity.invalid>`, the id reduced to characters a Message-ID allows.
pub fn message_id(n: &Notification) -> String {
    let id: String = n
        .delivery_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("<{id}@probity.invalid>")
}

/// One line, no control or bidi characters (a header must not be split or reordered).
pub fn subject(n: &Notification) -> String {
    let state = match n.action {
        Action::Trigger => n.severity.as_str().to_ascii_uppercase(),
        Action::Resolve => "RESOLVED".to_string(),
    };
    let summary = truncate(&neutralize(&n.summary).replace(['\n', '\t'], " "), 200);
    let test = if n.test { "[TEST] " } else { "" };
    format!("{test}[PROBITY {state}] {summary}")
}

pub fn plain(n: &Notification) -> String {
    let mut out = format!("{}\n\n", subject(n));
    for (k, v) in &n.details {
        out.push_str(&format!(
            "{}: {}\n",
            neutralize(k),
            truncate(&neutralize(v), 2000)
        ));
    }
    out.push_str(&format!(
        "\nProbe: {}\nRule: {}\n",
        neutralize(&n.probe),
        neutralize(&n.rule)
    ));
    out.push_str(&format!(
        "Since: {}\n",
        n.started_at.format("%Y-%m-%d %H:%M:%S UTC")
    ));
    if let Some(ended) = n.ended_at {
        out.push_str(&format!(
            "Resolved: {}\n",
            ended.format("%Y-%m-%d %H:%M:%S UTC")
        ));
    }
    for (k, v) in &n.labels {
        out.push_str(&format!("Label {}: {}\n", neutralize(k), neutralize(v)));
    }
    if let Some(link) = &n.link {
        out.push_str(&format!("Details: {}\n", neutralize(link)));
    }
    if n.test {
        out.push_str("\nThis is a test notification (probity alert test).\n");
    }
    out
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in neutralize(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub fn html(n: &Notification) -> String {
    let e = escape_html;
    let mut rows = String::new();
    for (k, v) in &n.details {
        rows.push_str(&format!(
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>\n",
            e(k),
            e(&truncate(v, 2000))
        ));
    }
    rows.push_str(&format!(
        "<tr><th align=\"left\">Probe</th><td>{}</td></tr>\n",
        e(&n.probe)
    ));
    rows.push_str(&format!(
        "<tr><th align=\"left\">Rule</th><td>{}</td></tr>\n",
        e(&n.rule)
    ));
    rows.push_str(&format!(
        "<tr><th align=\"left\">Since</th><td>{}</td></tr>\n",
        n.started_at.format("%Y-%m-%d %H:%M:%S UTC")
    ));
    if let Some(ended) = n.ended_at {
        rows.push_str(&format!(
            "<tr><th align=\"left\">Resolved</th><td>{}</td></tr>\n",
            ended.format("%Y-%m-%d %H:%M:%S UTC")
        ));
    }
    for (k, v) in &n.labels {
        rows.push_str(&format!(
            "<tr><th align=\"left\">Label {}</th><td>{}</td></tr>\n",
            e(k),
            e(v)
        ));
    }
    if let Some(link) = &n.link {
        rows.push_str(&format!(
            "<tr><th align=\"left\">Details</th><td>{}</td></tr>\n",
            e(link)
        ));
    }
    let test = if n.test {
        "<p><strong>This is a test notification (probity alert test).</strong></p>\n"
    } else {
        ""
    };
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head><body>\n\
         <h2>{title}</h2>\n{test}<table>\n{rows}</table>\n</body></html>\n",
        title = e(&subject(n)),
    )
}

fn smtp_error(name: &str, redactor: &Redactor, e: lettre::transport::smtp::Error) -> NotifyError {
    // Permanent (5xx) replies and client-side errors will fail the same way again.
    let retryable = !(e.is_permanent() || e.is_client());
    let text = super::error_chain(&e);
    let what = if e.is_timeout() { "timed out: " } else { "" };
    NotifyError {
        retryable,
        retry_after: None,
        message: redactor.redact(&format!("{name}: SMTP {what}{text}")),
    }
}

impl Notifier for Email {
    fn name(&self) -> &str {
        &self.name
    }

    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let message = self.message(n)?;
            // lettre's own timeout covers each command but not waiting for the greeting:
            // a server that accepts and never speaks would hold the delivery forever.
            match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
                Ok(sent) => sent.map(|_| ()).map_err(|e| {
                    let mut err = smtp_error(&self.name, &self.redactor, e);
                    // `tls: none` against a server that wants encryption fails either
                    // on MAIL ("530 Must issue a STARTTLS command first") or, with a
                    // login configured, on finding no AUTH offered before encryption.
                    let text = err.message.to_ascii_uppercase();
                    if self.plain && text.contains("STARTTLS") {
                        err.message.push_str(
                            " (the server requires an encrypted connection: set `tls: starttls`)",
                        );
                    } else if self.plain && text.contains("AUTHENTICATION MECHANISM") {
                        err.message.push_str(
                            " (the server offers no login over an unencrypted connection; \
                             if it requires TLS, set `tls: starttls`)",
                        );
                    }
                    err
                }),
                Err(_) => Err(NotifyError {
                    retryable: true,
                    retry_after: None,
                    message: format!(
                        "{}: SMTP timed out after {} ms",
                        self.name,
                        self.timeout.as_millis()
                    ),
                }),
            }
        })
    }
}
