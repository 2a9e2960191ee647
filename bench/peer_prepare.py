#!/usr/bin/python3
"""The peer for bench_prepare: the same ingestion + normalization as `tweetlm prepare`, written
the way a data scientist would in plain Python (standard library only, one process).

    /usr/bin/python3 peer_prepare.py INPUT.jsonl OUTPUT.jsonl

Per line: json.loads, note_tweet.text or text, drop retweets (referenced_tweets "retweeted" or a
leading "RT @"), html.unescape (repeated, up to three passes), NFC, links -> "http" then mentions -> "@user" (links first: a URL
may hold an '@'), whitespace collapsed, fewer than 3 code points dropped, exact de-duplication
by hash, one JSON object per kept tweet. Prints one JSON line of counts and seconds on stdout.
It leaves out the parts of tweetlm's job beyond ingestion + normalization (control characters,
three split files, the report), so if anything its MB/s flatters it.
"""
import html
import json
import re
import sys
import time
import unicodedata

# Schemes count even glued to a word, a bare "www." only at a word start (as tweetlm does).
LINK = re.compile(r"(?:https?://|(?<![A-Za-z0-9_])www\.)\S+", re.IGNORECASE)
MENTION = re.compile(r"(?<![A-Za-z0-9_])@[A-Za-z0-9_]+")
SPACE = re.compile(r"\s+")


def normalize(text):
    for _ in range(3):  # scraped text is often escaped twice ("&amp;amp;")
        if "&" not in text:
            break
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    text = unicodedata.normalize("NFC", text)
    text = LINK.sub("http", text)
    text = MENTION.sub("@user", text)
    return SPACE.sub(" ", text).strip()


def is_retweet(obj, text):
    for ref in obj.get("referenced_tweets") or ():
        if isinstance(ref, dict) and ref.get("type") == "retweeted":
            return True
    return text.lstrip(" \t").startswith("RT @")


def main():
    src, dst = sys.argv[1], sys.argv[2]
    start = time.perf_counter()
    seen = set()
    n_in = n_bad = n_rt = n_short = n_dup = n_kept = 0
    bytes_in = 0
    with open(src, "rb") as f, open(dst, "w", encoding="utf-8") as out:
        for line in f:
            bytes_in += len(line)
            if not line.strip():
                continue
            n_in += 1
            try:
                obj = json.loads(line)
            except ValueError:
                n_bad += 1
                continue
            note = obj.get("note_tweet")
            text = (note.get("text") if isinstance(note, dict) else None) or obj.get("text")
            if not isinstance(text, str):
                n_bad += 1
                continue
            if is_retweet(obj, text):
                n_rt += 1
                continue
            text = normalize(text)
            if len(text) < 3:
                n_short += 1
                continue
            h = hash(text)
            if h in seen:
                n_dup += 1
                continue
            seen.add(h)
            n_kept += 1
            rec = {"id": obj.get("id"), "text": text}
            if obj.get("lang"):
                rec["lang"] = obj["lang"]
            out.write(json.dumps(rec, ensure_ascii=False))
            out.write("\n")
    seconds = time.perf_counter() - start
    print(json.dumps({"bytes": bytes_in, "records": n_in, "malformed": n_bad, "retweets": n_rt,
                      "too_short": n_short, "duplicates": n_dup, "kept": n_kept, "seconds": seconds}))


if __name__ == "__main__":
    main()
