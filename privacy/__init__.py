"""Personal data in call transcripts: ИИН, phone and card numbers said as words, found by the word timings."""
