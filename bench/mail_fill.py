"""Bulk fill of the local mail tables for bench/scale.py: n small RFC 5322 messages over two
years, a few hundred senders, 30 % unread, 5 % with an attachment flag, 10 % labelled Work,
threads of up to 5 messages."""
import json
import random
import time

QUERIES = ["from:sender42", "is:unread", "subject:budget", "has:attachment label:Work", "invoice after:2026-01-01", "\"lake trail\""]

WORDS = ["budget", "invoice", "meeting", "report", "lunch", "travel", "update", "question", "photos", "plan", "review", "offer"]


def available(db):
    return db.execute("SELECT 1 FROM sqlite_master WHERE name = 'mail_messages'").fetchone() is not None


def fill(db, n):
    user = db.execute("SELECT id FROM users WHERE name = 'local'").fetchone()[0]
    rnd = random.Random(7)
    now = int(time.time() * 1000)
    rows, labels = [], []
    next_id = (db.execute("SELECT coalesce(max(id), 0) FROM mail_messages").fetchone()[0] or 0) + 1
    thread = None
    for i in range(n):
        sender = f"sender{rnd.randrange(400)}"
        subject = f"{rnd.choice(WORDS).capitalize()} {rnd.choice(WORDS)} #{i}"
        text = " ".join(rnd.choice(WORDS) for _ in range(40)) + (" lake trail" if i % 997 == 0 else "")
        if thread is None or rnd.random() < 0.3:
            thread = f"tbench{i}"
        date = now - rnd.randrange(730 * 86400000)
        raw = (f"From: {sender} <{sender}@example.com>\nTo: Me <me@concierge.local>\nSubject: {subject}\n"
               f"Message-ID: <bench{i}@example.com>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n{text}\n")
        rows.append((next_id + i, f"bench{i:07d}", user, thread, f"bench{i}@example.com", sender, f"{sender}@example.com",
                     json.dumps([{"name": "Me", "email": "me@concierge.local"}]), "[]", subject, text[:160], text, date,
                     1 if rnd.random() < 0.3 else 0, 0, 1 if rnd.random() < 0.05 else 0, len(raw), raw))
        labels.append((next_id + i, "INBOX"))
        if rnd.random() < 0.1:
            labels.append((next_id + i, "Work"))
    db.executemany("INSERT INTO mail_messages (id, uid, user_id, thread_id, message_id, from_name, from_email, to_addrs, cc_addrs, "
                   "subject, snippet, body_text, date_ms, unread, starred, has_attachment, size, raw) "
                   "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.executemany("INSERT OR IGNORE INTO mail_message_labels (message_id, label) VALUES (?, ?)", labels)
    db.commit()
