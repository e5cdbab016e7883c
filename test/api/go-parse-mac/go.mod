module ccts.test/go-parse-mac

go 1.22
