// Package expr implements Milvus boolean filter expressions: the "expr" of
// Query and Delete and the "dsl" filter of Search. An expression is parsed
// once against the collection schema into a typed Plan, which then
// evaluates rows without allocating. It knows nothing about storage: a
// Resolver gives the schema, a Row gives one row's values.
//
//	plan, err := expr.Parse(`age > 18 and color in ["red", "blue"]`, schema)
//	if err != nil { ... }        // *expr.Error: Milvus code 1100
//	cur := &cursor{seg: seg}     // one Row reused for a whole scan
//	for i := range seg.rows {
//		cur.i = i
//		if plan.Eval(cur) { ... }
//	}
//
// Reuse one pointer Row for a scan (as above): turning a fresh struct into
// the Row interface for every row would allocate.
//
// # Grammar
//
// The reference is Milvus' internal/parser/planparserv2/Plan.g4; this is
// the subset supported, from lowest to highest precedence:
//
//	expr      = and { ("or" | "OR" | "||") and }
//	and       = not { ("and" | "AND" | "&&") not }
//	not       = ("not" | "NOT" | "!") not | predicate
//	predicate = "exists" primary                      JSON key present and not JSON null
//	          | sum cmp sum                            cmp: == != < <= > >=
//	          | sum ("<"|"<=") column ("<"|"<=") sum   range, constant bounds
//	          | sum (">"|">=") column (">"|">=") sum   descending range
//	          | column ["not"] "in" list
//	          | column "like" string
//	          | column "is" ["not"] "null"
//	          | sum                                    Bool field or constant as a condition
//	sum       = product { ("+" | "-") product }
//	product   = unary { ("*" | "/" | "%") unary }
//	unary     = ("-" | "+") unary | power
//	power     = primary [ "**" unary ]                 constants only, as in Milvus
//	primary   = literal | column | list | "{" name "}" | "(" expr ")"
//	          | contains "(" column "," (literal | list) ")"
//	          | "array_length" "(" column ")"
//	contains  = array_contains | array_contains_all | array_contains_any
//	          | json_contains | json_contains_all | json_contains_any
//	column    = name { "[" (string | int) "]" }        no space before "["
//	list      = "[" [ constant { "," constant } [","] ] "]"
//	literal   = int | float | string | true | false
//
// Keywords and function names are accepted in lower or UPPER case only
// (as Plan.g4 lists them); booleans also as True/False. "And" is a name.
// Integers are decimal, 0x hex, 0o or C-style leading-zero octal, 0b
// binary; floats are decimal with optional exponent. Strings use single
// or double quotes with C/Go escapes (\n \t \\ \' \" \xHH \ooo \uXXXX
// \UXXXXXXXX); an unknown escape such as \% keeps its backslash so like
// patterns can escape wildcards. r"..." strings keep backslashes as
// written. {name} placeholders take values from ParseTemplate, as
// Milvus' expr_template_values do.
//
// Names: a schema field; "$meta" (the dynamic field); any other name is a
// key of the dynamic field (name means $meta["name"]) when the schema has
// one, and an "unknown field" error otherwise. JSON fields take paths
// such as meta["a"]["b"] or meta["l"][0] (JSON pointer rules: a numeric
// key also indexes arrays). Array fields take one integer index, tags[0].
//
// Types are checked at parse time: numbers compare with numbers, strings
// with strings, bools with bools (== and != only); JSON values compare
// with anything and are checked per row. like needs a VarChar field, a
// VarChar array element or a JSON value; arithmetic needs numbers (% needs
// integers); in lists must match the field type (no float in an integer
// list); contains functions need an Array field or a JSON value, and
// Array elements must match the element type. Comparing two fields
// (age < score) and general arithmetic on both sides (age * 2 + 1 >
// score) are accepted; Milvus accepts a subset of those shapes. Constant
// sub-expressions are folded; a constant division by zero is an error.
// Whole Array or JSON fields cannot be compared directly.
//
// like follows SQL as Milvus does: % any run of characters, _ exactly one
// character (UTF-8 rune), a backslash makes the next character literal.
// Prefix, suffix, infix and exact patterns compile to a single strings
// call; others to a backtracking matcher that does not allocate.
//
// # Semantics
//
// Numbers compare numerically across integer and floating types. Integer
// arithmetic wraps and truncates like Milvus' C++ core; a constant
// compared with a Float (float32) field is rounded to float32 first, so
// f == 0.1 finds a stored 0.1. JSON numbers decoded as float64 take part
// in arithmetic as floats; decode JSON with json.Decoder.UseNumber to get
// Milvus' exact integer behaviour for JSON integers.
//
// Missing JSON keys, array indexes out of range, JSON values of another
// type (a string compared with a number, an object, JSON null) and
// arithmetic on them (or integer division by zero at run time) make every
// comparison false except !=, which is true — exactly Milvus'
// UnaryRangeJSONCompare behaviour. So `not in` and != match rows without
// the key. "x is null" on a JSON key means the key is missing or JSON
// null; "x is not null" and "exists x" mean the opposite.
//
// Nulls of nullable fields follow Milvus' result/validity bitmaps: every
// predicate yields (match, valid); a comparison, in, like or arithmetic on
// a null is (false, invalid); not flips match on valid rows only; and/or
// combine match with and/or and valid with or. A row matches when match
// is true. So opt != 1 and not (opt == 1) both skip null rows, while
// not (opt == 1 and id == 5) matches a row with a null opt and id 5, as
// Milvus does.
//
// An empty or blank expression gives a plan matching every row
// (MatchesAll); whether that is allowed (Delete requires a filter, Query
// a limit) is the caller's decision.
//
// # Not supported
//
// Rejected with an *Error naming the construct: text_match, phrase_match,
// random_sample, element_filter, match_*, the spatial st_* functions
// ("function text_match is not supported"); regex =~ and !~, bit
// operations & | ^ ~ << >> ("operator "=~" is not supported"); ISO
// timestamp comparisons ("ISO timestamp comparisons are not supported");
// ** on non-constants; struct sub-fields; expressions nested deeper than
// 200 levels.
//
// Accepted beyond Milvus: unary minus on fields (Milvus folds it on
// constants only), arithmetic anywhere in a comparison, and "not" applying
// to the whole predicate after it ("not a > 1" is "not (a > 1)"; Plan.g4
// binds not tighter and rejects it).
//
// # Errors
//
// Every parse failure is an *Error with the byte offset, 1-based line and
// column, and a message saying what was expected or what is wrong:
//
//	filter: 1:13: unknown field "colour"
//	filter: 1:22: expected ')', found "name"
//	filter: 1:5: cannot compare Int32 field "age" with string "x"
package expr
