package config

import (
	"os"
	"testing"
)

func BenchmarkParseKeepalivedRecipe(b *testing.B) {
	data, err := os.ReadFile("testdata/recipe/master.conf")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := parseKeepalived("master.conf", data, memFS{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseYAMLIssue5(b *testing.B) {
	data := []byte(issue5)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := ParseYAML("node.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
