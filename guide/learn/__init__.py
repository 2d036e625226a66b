"""Learning the API, headless: the tour (`tour`), and the official spec that explains and checks each call (`spec`)."""
