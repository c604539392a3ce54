"""Export a curated subset: policy files (`policy`), their evaluation on the marts (`select`), the kept rows
(`rows`), one writer per format (`writers`), and the data card (`card`); `main` runs them."""
