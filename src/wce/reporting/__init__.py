"""Console, tables, plots, report files and writers for the experiment commands; imports nothing from
`wce.experiments`, which passes plain data in."""