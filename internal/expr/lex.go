package expr

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokIdent
	tokInt
	tokFloat
	tokString
	tokTrue
	tokFalse
	tokLParen
	tokRParen
	tokLBrack
	tokRBrack
	tokLBrace
	tokRBrace
	tokComma
	tokPlus
	tokMinus
	tokStar
	tokSlash
	tokPercent
	tokPow
	tokEQ
	tokNE
	tokLT
	tokLE
	tokGT
	tokGE
	tokAnd
	tokOr
	tokNot
	tokIn
	tokLike
	tokExists
	tokIs
	tokNull
	// tokUnsupported: operators of the full Milvus grammar we reject
	// (bit operations, shifts, regex match, '=').
	tokUnsupported
)

type token struct {
	kind tokKind
	pos  int // byte offset of the first byte
	end  int // byte offset after the last byte
	text string
	// Decoded literal values.
	i int64
	f float64
	s string
}

// keywords are accepted in lower and UPPER case only, as in Milvus' Plan.g4;
// "And" is an identifier.
var keywords = map[string]tokKind{
	"and": tokAnd, "AND": tokAnd,
	"or": tokOr, "OR": tokOr,
	"not": tokNot, "NOT": tokNot,
	"in": tokIn, "IN": tokIn,
	"like": tokLike, "LIKE": tokLike,
	"exists": tokExists, "EXISTS": tokExists,
	"is": tokIs, "IS": tokIs,
	"null": tokNull, "NULL": tokNull,
	"true": tokTrue, "True": tokTrue, "TRUE": tokTrue,
	"false": tokFalse, "False": tokFalse, "FALSE": tokFalse,
}

type lexer struct {
	src string
	pos int
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) }

func isBaseDigit(c byte, base int) bool {
	if base == 8 {
		return c >= '0' && c <= '7'
	}
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// next returns the next token or a lexical error.
func (l *lexer) next() (token, *Error) {
	src := l.src
	for l.pos < len(src) && (src[l.pos] == ' ' || src[l.pos] == '\t' || src[l.pos] == '\n' || src[l.pos] == '\r') {
		l.pos++
	}
	start := l.pos
	if start >= len(src) {
		return token{kind: tokEOF, pos: start, end: start}, nil
	}
	c := src[start]
	tok := func(k tokKind, n int) (token, *Error) {
		l.pos = start + n
		return token{kind: k, pos: start, end: l.pos, text: src[start:l.pos]}, nil
	}
	peek := byte(0)
	if start+1 < len(src) {
		peek = src[start+1]
	}
	switch {
	case isIdentStart(c) || (c == '$' && strings.HasPrefix(src[start:], "$meta")):
		n := 1
		if c == '$' {
			n = len("$meta")
		}
		for start+n < len(src) && isIdentChar(src[start+n]) {
			n++
		}
		word := src[start : start+n]
		if c == '$' && word != "$meta" {
			return token{}, newError(src, start, "unexpected %q", word)
		}
		if (c == 'r' || c == 'R') && n == 1 && (peek == '"' || peek == '\'') {
			return l.rawString(start)
		}
		if k, ok := keywords[word]; ok {
			return tok(k, n)
		}
		return tok(tokIdent, n)
	case isDigit(c) || (c == '.' && isDigit(peek)):
		return l.number(start)
	case c == '"' || c == '\'':
		return l.quoted(start)
	}
	switch c {
	case '(':
		return tok(tokLParen, 1)
	case ')':
		return tok(tokRParen, 1)
	case '[':
		return tok(tokLBrack, 1)
	case ']':
		return tok(tokRBrack, 1)
	case '{':
		return tok(tokLBrace, 1)
	case '}':
		return tok(tokRBrace, 1)
	case ',':
		return tok(tokComma, 1)
	case '+':
		return tok(tokPlus, 1)
	case '-':
		return tok(tokMinus, 1)
	case '*':
		if peek == '*' {
			return tok(tokPow, 2)
		}
		return tok(tokStar, 1)
	case '/':
		return tok(tokSlash, 1)
	case '%':
		return tok(tokPercent, 1)
	case '=':
		if peek == '=' {
			return tok(tokEQ, 2)
		}
		if peek == '~' {
			return tok(tokUnsupported, 2)
		}
		return tok(tokUnsupported, 1)
	case '!':
		if peek == '=' {
			return tok(tokNE, 2)
		}
		if peek == '~' {
			return tok(tokUnsupported, 2)
		}
		return tok(tokNot, 1)
	case '<':
		if peek == '=' {
			return tok(tokLE, 2)
		}
		if peek == '<' {
			return tok(tokUnsupported, 2)
		}
		return tok(tokLT, 1)
	case '>':
		if peek == '=' {
			return tok(tokGE, 2)
		}
		if peek == '>' {
			return tok(tokUnsupported, 2)
		}
		return tok(tokGT, 1)
	case '&':
		if peek == '&' {
			return tok(tokAnd, 2)
		}
		return tok(tokUnsupported, 1)
	case '|':
		if peek == '|' {
			return tok(tokOr, 2)
		}
		return tok(tokUnsupported, 1)
	case '^', '~':
		return tok(tokUnsupported, 1)
	}
	r, _ := utf8.DecodeRuneInString(src[start:])
	return token{}, newError(src, start, "unexpected character %q", r)
}

// number scans an integer (decimal, 0x, 0o, 0b, C-style leading-zero
// octal) or a decimal float.
func (l *lexer) number(start int) (token, *Error) {
	src := l.src
	i := start
	isFloat := false
	if src[i] == '0' && i+1 < len(src) && strings.IndexByte("xXoObB", src[i+1]) >= 0 {
		i += 2
		for i < len(src) && isIdentChar(src[i]) {
			i++
		}
	} else {
		for i < len(src) && isDigit(src[i]) {
			i++
		}
		if i < len(src) && src[i] == '.' {
			isFloat = true
			i++
			for i < len(src) && isDigit(src[i]) {
				i++
			}
		}
		if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
			j := i + 1
			if j < len(src) && (src[j] == '+' || src[j] == '-') {
				j++
			}
			if j < len(src) && isDigit(src[j]) {
				isFloat = true
				i = j
				for i < len(src) && isDigit(src[i]) {
					i++
				}
			}
		}
	}
	text := src[start:i]
	if i < len(src) && (isIdentChar(src[i]) || src[i] == '.') {
		return token{}, newError(src, start, "invalid number %q", src[start:i+1])
	}
	l.pos = i
	t := token{pos: start, end: i, text: text}
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return token{}, newError(src, start, "float literal %s out of range", text)
		}
		t.kind, t.f = tokFloat, f
		return t, nil
	}
	v, err := strconv.ParseInt(text, 0, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return token{}, newError(src, start, "integer literal %s out of int64 range", text)
		}
		return token{}, newError(src, start, "invalid integer literal %s", text)
	}
	t.kind, t.i = tokInt, v
	return t, nil
}

// quoted scans a '...' or "..." string with C/Go escapes. An unknown escape
// such as \% keeps its backslash, so like patterns can escape wildcards.
func (l *lexer) quoted(start int) (token, *Error) {
	src := l.src
	q := src[start]
	var b strings.Builder
	i := start + 1
	for {
		if i >= len(src) || src[i] == '\n' || src[i] == '\r' {
			return token{}, newError(src, start, "unterminated string")
		}
		c := src[i]
		if c == q {
			i++
			break
		}
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(src) {
			return token{}, newError(src, start, "unterminated string")
		}
		e := src[i+1]
		switch e {
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '\\', '\'', '"', '?':
			b.WriteByte(e)
		case 'x', 'u', 'U', '0', '1', '2', '3', '4', '5', '6', '7':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			digits, base, from := n, 16, i+2
			if n == 0 {
				digits, base, from = 3, 8, i+1
			}
			j := from
			for j < from+digits && j < len(src) && isBaseDigit(src[j], base) {
				j++
			}
			v, err := strconv.ParseUint(src[from:j], base, 32)
			if j < from+digits || err != nil || (n == 0 && v > 255) {
				return token{}, newError(src, i, "invalid escape sequence %q", src[i:j])
			}
			if n >= 4 {
				if !utf8.ValidRune(rune(v)) {
					return token{}, newError(src, i, "invalid escape sequence %q", src[i:from+digits])
				}
				b.WriteRune(rune(v))
			} else {
				b.WriteByte(byte(v))
			}
			i = from + digits
			continue
		default:
			b.WriteByte('\\')
			b.WriteByte(e)
		}
		i += 2
	}
	l.pos = i
	return token{kind: tokString, pos: start, end: i, text: src[start:i], s: b.String()}, nil
}

// rawString scans r"..." / r'...': backslashes are kept verbatim and only
// stop the quote from ending the string.
func (l *lexer) rawString(start int) (token, *Error) {
	src := l.src
	q := src[start+1]
	i := start + 2
	for {
		if i >= len(src) || src[i] == '\n' || src[i] == '\r' {
			return token{}, newError(src, start, "unterminated string")
		}
		if src[i] == '\\' && i+1 < len(src) && src[i+1] != '\n' && src[i+1] != '\r' {
			i += 2
			continue
		}
		if src[i] == q {
			break
		}
		i++
	}
	l.pos = i + 1
	return token{kind: tokString, pos: start, end: l.pos, text: src[start:l.pos], s: src[start+2 : i]}, nil
}
