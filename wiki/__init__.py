"""Wikipedia in, clean pages out: dump reading (`dump`), wikitext cleaning (`clean`), article
filters (`filters`) and the configured sources (`sources`). `pipeline.prepare` ties them up."""
