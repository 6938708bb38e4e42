package elbv2

import (
	"os"
	"strings"
	"testing"
)

// The README's least-privilege policy lists every action the readers call.
func TestReadmePolicyListsRequiredActions(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range RequiredActions {
		if !strings.Contains(string(readme), `"`+a+`"`) {
			t.Errorf("README.md's policy lacks %q", a)
		}
	}
}
