package failbench

import (
	"slices"
	"testing"
)

// --only names map to scenarios; a switchover always brings its resume.
func TestParseScenarios(t *testing.T) {
	got, err := ParseScenarios("service-crash, switchover")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Scenario{ServiceCrash, Switchover, Resume}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	o := Options{Only: got}
	if !o.runs(Resume) || o.runs(HostLoss) || (&Options{}).runs(HostLoss) == false {
		t.Fatal("runs does not follow Only")
	}
	if _, err := ParseScenarios("p2"); err == nil {
		t.Fatal("unknown name accepted")
	}
}
