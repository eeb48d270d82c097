package expr

import "encoding/json"

// testSchema is the collection most tests filter.
func testSchema() *Schema {
	return &Schema{
		Fields: []Field{
			{Name: "id", ID: 100, Type: Int64},
			{Name: "age", ID: 101, Type: Int32},
			{Name: "score", ID: 102, Type: Double},
			{Name: "f32", ID: 103, Type: Float},
			{Name: "name", ID: 104, Type: VarChar},
			{Name: "flag", ID: 105, Type: Bool},
			{Name: "meta", ID: 106, Type: JSON},
			{Name: "tags", ID: 107, Type: Array, Elem: VarChar},
			{Name: "nums", ID: 108, Type: Array, Elem: Int64},
			{Name: "opt", ID: 109, Type: Int64, Nullable: true},
			{Name: "vec", ID: 110, Type: FloatVector},
			{Name: "pk", ID: 111, Type: VarChar},
		},
		DynamicField: Field{Name: "$meta", ID: 199, Type: JSON},
	}
}

// mapRow is a Row over field IDs; an absent ID is null.
type mapRow map[int64]any

func (r mapRow) Int(id int64) (int64, bool) { v, ok := r[id].(int64); return v, ok }
func (r mapRow) Float(id int64) (float64, bool) {
	v, ok := r[id].(float64)
	return v, ok
}
func (r mapRow) Bool(id int64) (bool, bool)     { v, ok := r[id].(bool); return v, ok }
func (r mapRow) String(id int64) (string, bool) { v, ok := r[id].(string); return v, ok }
func (r mapRow) JSON(id int64) (any, bool)      { v, ok := r[id]; return v, ok }
func (r mapRow) Array(id int64) (ArrayValue, bool) {
	v, ok := r[id].(ArrayValue)
	return v, ok
}

func mustJSON(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		panic(err)
	}
	return v
}
