package chaos

import (
	"fmt"
	"math"
	"os"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

// kvInput is a porcupine input: a put (insert and upsert are both puts:
// the newest row of a key wins), a delete, or a read.
type kvInput struct {
	Kind  opKind
	Key   int64
	Value string // put: the value written
}

// kvModel is a register per key; "" means no row. Reads return the value.
var kvModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[int64][]porcupine.Operation{}
		var keys []int64
		for _, o := range h {
			k := o.Input.(kvInput).Key
			if _, seen := byKey[k]; !seen {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], o)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		out := make([][]porcupine.Operation, len(keys))
		for i, k := range keys {
			out[i] = byKey[k]
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(kvInput)
		switch in.Kind {
		case opInsert, opUpsert:
			return true, in.Value
		case opDelete:
			return true, ""
		}
		return output.(string) == state.(string), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(kvInput)
		switch in.Kind {
		case opInsert, opUpsert:
			return fmt.Sprintf("%s(%d, %s)", in.Kind, in.Key, in.Value)
		case opDelete:
			return fmt.Sprintf("delete(%d)", in.Key)
		}
		return fmt.Sprintf("%s(%d) -> %q", in.Kind, in.Key, output)
	},
	DescribeState: func(state any) string { return fmt.Sprintf("%q", state) },
}

// porcupineHistory turns the recorded operations into porcupine's form.
//
//   - Failed operations and reads that did not answer had no effect and
//     are left out.
//   - An indeterminate write may take effect at any time after its call:
//     its return is +infinity.
//   - An indeterminate put whose (unique) value no read ever returned is
//     left out: placing it after everything else is always a valid
//     linearization, and dropping it keeps the search small (the same
//     trick as etcd's robustness suite).
func porcupineHistory(ops []op) []porcupine.Operation {
	seen := map[string]bool{}
	for _, o := range ops {
		if !o.Kind.write() && o.Outcome == ok {
			seen[o.Value] = true
		}
	}
	var out []porcupine.Operation
	pending := 0
	for _, o := range ops {
		po := porcupine.Operation{
			ClientId: o.Client,
			Input:    kvInput{Kind: o.Kind, Key: o.Key, Value: o.Value},
			Call:     int64(o.Call),
			Return:   int64(o.Return),
			Output:   "",
		}
		switch {
		case o.Outcome == failed:
			continue
		case !o.Kind.write():
			if o.Outcome != ok {
				continue
			}
			po.Output = o.Value
		case o.Outcome == indeterminate:
			if o.Kind != opDelete && !seen[o.Value] {
				continue
			}
			po.Return = math.MaxInt64
			// Its own client id: it overlaps its client's later calls.
			po.ClientId = 1000 + pending
			pending++
		}
		out = append(out, po)
	}
	return out
}

// linResult is the outcome of the linearizability check.
type linResult struct {
	Ops        int
	Keys       int
	Violations []int64 // keys whose history is not linearizable
	Unknown    []int64 // keys the checker gave up on (timeout)
	Visual     string  // HTML visualization of the first violation
}

// checkLinearizable checks each key's history on its own, so a violation
// names its key and one slow key does not hide the others.
func checkLinearizable(ops []op, perKey time.Duration, visualDir string) linResult {
	h := porcupineHistory(ops)
	var res linResult
	res.Ops = len(h)
	for _, part := range kvModel.Partition(h) {
		key := part[0].Input.(kvInput).Key
		res.Keys++
		r, info := porcupine.CheckOperationsVerbose(kvModel, part, perKey)
		switch r {
		case porcupine.Illegal:
			res.Violations = append(res.Violations, key)
			if res.Visual == "" && visualDir != "" {
				path := fmt.Sprintf("%s/porcupine-key-%d.html", visualDir, key)
				if f, err := os.Create(path); err == nil {
					if porcupine.Visualize(kvModel, info, f) == nil {
						res.Visual = path
					}
					f.Close()
				}
			}
		case porcupine.Unknown:
			res.Unknown = append(res.Unknown, key)
		}
	}
	return res
}
