package config

import (
	"bufio"
	"bytes"
	"errors"
	"path/filepath"
	"strings"
)

// kline is one logical keepalived line. As in keepalived's read_line, every
// '{' and '}' outside double quotes becomes a line of its own, so
// "vrrp_instance VI_1 {", a '{' on the next line and one-line blocks
// "virtual_ipaddress { 10.0.0.1/24 }" all read the same.
type kline struct {
	pos   Pos
	brace byte     // '{' or '}' for a brace line, else 0
	text  string   // decommented text, for the quoted-escaped reparse of script values
	toks  []string // tokens as keepalived's alloc_strvec_r splits them
}

const (
	maxIncludeDepth = 16
	maxLineLen      = 64 * 1024
	whiteSpace      = " \t\f\n\r\v"
)

// fileSystem is what include needs; tests and fuzzing substitute it.
type fileSystem interface {
	ReadFile(name string) ([]byte, error)
	Glob(pattern string) ([]string, error)
}

// lexer turns a file and its includes into logical lines.
type lexer struct {
	d     *diag
	fs    fileSystem
	lines []kline
	chain []string // include chain, for cycle detection
}

func (lx *lexer) file(name string, data []byte) {
	lx.chain = append(lx.chain, name)
	defer func() { lx.chain = lx.chain[:len(lx.chain)-1] }()

	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxLineLen)
	num := 0
	for sc.Scan() {
		num++
		pos := Pos{File: name, Line: num}
		text, ok := decomment(strings.TrimRight(sc.Text(), "\r"))
		if !ok {
			lx.d.errorf(pos, "unterminated quote")
			continue
		}
		if text == "" {
			continue
		}
		if toks, _ := splitTokens(text); len(toks) > 0 && strings.HasPrefix(toks[0], "include") {
			if lx.include(pos, toks) {
				continue
			}
		}
		lx.segments(pos, text)
	}
	if err := sc.Err(); err != nil {
		msg := err.Error()
		if errors.Is(err, bufio.ErrTooLong) {
			msg = "line too long"
		}
		lx.d.errorf(Pos{File: name, Line: num + 1}, "%s", msg)
	}
}

// include handles an include line and reports whether it was one.
func (lx *lexer) include(pos Pos, toks []string) bool {
	switch toks[0] {
	case "include":
	case "includer", "includem", "includew", "includeb", "includea":
		lx.d.errorf(pos, "%s is not supported; use include", toks[0])
		return true
	default:
		return false
	}
	if len(toks) != 2 {
		lx.d.errorf(pos, "include needs exactly one file pattern")
		return true
	}
	pattern := toks[1]
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(filepath.Dir(pos.File), pattern)
	}
	if lx.fs == nil {
		lx.d.warnf(pos, "include %s matched no files", toks[1])
		return true
	}
	names, err := lx.fs.Glob(pattern)
	if err != nil {
		lx.d.errorf(pos, "include %s: %v", toks[1], err)
		return true
	}
	if len(names) == 0 {
		// keepalived's plain include silently ignores a missing file; we
		// say so, because a missing instance file is a common surprise.
		lx.d.warnf(pos, "include %s matched no files", toks[1])
		return true
	}
	if len(lx.chain) >= maxIncludeDepth {
		lx.d.errorf(pos, "include %s: nested more than %d deep", toks[1], maxIncludeDepth)
		return true
	}
	for _, n := range names {
		for _, c := range lx.chain {
			if c == n {
				lx.d.errorf(pos, "include %s: %s includes itself", toks[1], n)
				return true
			}
		}
		data, err := lx.fs.ReadFile(n)
		if err != nil {
			lx.d.errorf(pos, "include %s: %v", toks[1], err)
			continue
		}
		lx.file(n, data)
	}
	return true
}

// segments splits text at braces outside double quotes and tokenizes the parts.
func (lx *lexer) segments(pos Pos, text string) {
	start := 0
	quote := false
	emit := func(s string) {
		s = strings.Trim(s, " \t")
		if s == "" {
			return
		}
		toks, ok := splitTokens(s)
		if !ok {
			lx.d.errorf(pos, "unterminated quote")
			return
		}
		if len(toks) == 0 {
			return // only exotic whitespace such as \r or \v
		}
		lx.lines = append(lx.lines, kline{pos: pos, text: s, toks: toks})
	}
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == '"':
			quote = !quote
		case !quote && (c == '{' || c == '}'):
			emit(text[start:i])
			lx.lines = append(lx.lines, kline{pos: pos, brace: c, text: string(c), toks: []string{string(c)}})
			start = i + 1
		}
	}
	emit(text[start:])
}

// decomment mirrors keepalived's decomment(): '#' and '!' start a comment
// unless inside double quotes; "\#" and "\!" outside quotes are literal;
// leading and trailing blanks are removed. ok is false for an unterminated
// double quote.
func decomment(s string) (string, bool) {
	s = strings.TrimLeft(s, " \t")
	var b strings.Builder
	quote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quote = !quote
		case c == '\\' && i+1 < len(s):
			if !quote && (s[i+1] == '#' || s[i+1] == '!') {
				b.WriteByte(s[i+1])
			} else {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
			continue
		case !quote && (c == '#' || c == '!'):
			return strings.TrimRight(b.String(), " \t"), true
		}
		b.WriteByte(c)
	}
	return strings.TrimRight(b.String(), " \t"), !quote
}

// splitTokens mirrors alloc_strvec_r: whitespace-separated words, a word
// starting with '"' runs to the next '"' (quotes removed, spaces kept); an
// unquoted word also ends at a '"'.
func splitTokens(s string) ([]string, bool) {
	var toks []string
	for {
		s = strings.TrimLeft(s, whiteSpace)
		if s == "" {
			return toks, true
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return toks, false
			}
			toks = append(toks, s[1:1+end])
			s = s[2+end:]
			continue
		}
		end := strings.IndexAny(s, whiteSpace+`"`)
		if end < 0 {
			end = len(s)
		}
		toks = append(toks, s[:end])
		s = s[end:]
	}
}

// splitQuotedEscaped mirrors alloc_strvec_quoted_escaped, used by keepalived
// for script and notify values and again to split such a value into argv:
// words are separated by blanks; '...' and "..." quote (and may be glued to
// other text, as in a shell); backslash escapes \n \t \xHH \NNN \cX etc. work
// inside and outside quotes.
func splitQuotedEscaped(s string) ([]string, error) {
	var words []string
	i := 0
	for {
		for i < len(s) && strings.IndexByte(whiteSpace, s[i]) >= 0 {
			i++
		}
		if i >= len(s) {
			return words, nil
		}
		var w []byte
		var quote byte
	word:
		for i < len(s) {
			c := s[i]
			switch {
			case c == '\\':
				i++
				if i >= len(s) {
					return nil, errors.New("missing escaped character after '\\' at end")
				}
				var ch byte
				ch, i = unescape(s, i)
				w = append(w, ch)
			case quote != 0 && c == quote:
				quote = 0
				i++
			case quote != 0:
				w = append(w, c)
				i++
			case c == '"' || c == '\'':
				quote = c
				i++
			case strings.IndexByte(whiteSpace, c) >= 0:
				break word
			default:
				w = append(w, c)
				i++
			}
		}
		if quote != 0 {
			return nil, errors.New("missing terminating " + string(quote))
		}
		if bytes.IndexByte(w, 0) >= 0 {
			return nil, errors.New("NUL character in argument")
		}
		words = append(words, string(w))
	}
}

// unescape decodes the escape whose first character (after '\') is s[i]
// and returns the byte and the index after the escape.
func unescape(s string, i int) (byte, int) {
	c := s[i]
	switch {
	case c == 'x' && i+1 < len(s) && isHex(s[i+1]):
		var v byte
		i++
		for i < len(s) && isHex(s[i]) {
			v = v<<4 | hexVal(s[i])
			i++
		}
		return v, i
	case c == 'c' && i+1 < len(s):
		return s[i+1] & 0x1f, i + 2
	case c >= '0' && c <= '7':
		v := c - '0'
		i++
		for n := 0; n < 2 && i < len(s) && s[i] >= '0' && s[i] <= '7'; n++ {
			v = v<<3 + (s[i] - '0')
			i++
		}
		return v, i
	}
	switch c {
	case 'a':
		c = '\a'
	case 'b':
		c = '\b'
	case 'E':
		c = 0x1b
	case 'f':
		c = '\f'
	case 'n':
		c = '\n'
	case 'r':
		c = '\r'
	case 't':
		c = '\t'
	case 'v':
		c = '\v'
	}
	return c, i + 1
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// SplitCommand splits a script command line into argv the way keepalived
// splits a vrrp_script `script` or a notify value.
func SplitCommand(cmd string) ([]string, error) { return splitQuotedEscaped(cmd) }
