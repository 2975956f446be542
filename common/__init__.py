"""The shared vocabulary below every other package: text folding, domain words, the message catalogue,
the clock, settings, and the inbound/reply and delivery types. It imports nothing of ours."""
