package expr

import (
	"strings"
	"unicode/utf8"
)

// likeKind is the shape of a compiled like pattern; the common shapes run
// as one strings call.
type likeKind uint8

const (
	likeEqual    likeKind = iota // no wildcard
	likePrefix                   // abc%
	likeSuffix                   // %abc
	likeContains                 // %abc%
	likeGeneral                  // anything else
)

// likeSeg is one piece of a general pattern: a literal, or a wildcard.
type likeSeg struct {
	lit  string
	any  bool // % : zero or more characters
	one  bool // _ : exactly one character (rune)
	skip int  // run of _ merged into one segment
}

// matcher is a compiled like pattern. Patterns follow SQL as Milvus does:
// % matches any run of characters, _ exactly one character, and a
// backslash makes the next character literal.
type matcher struct {
	kind likeKind
	lit  string
	segs []likeSeg
}

func compileLike(p string) matcher {
	var segs []likeSeg
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			segs = append(segs, likeSeg{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			i++
			lit.WriteByte(p[i])
		case c == '%':
			flush()
			if n := len(segs); n == 0 || !segs[n-1].any {
				segs = append(segs, likeSeg{any: true})
			}
		case c == '_':
			flush()
			if n := len(segs); n > 0 && segs[n-1].one {
				segs[n-1].skip++
			} else {
				segs = append(segs, likeSeg{one: true, skip: 1})
			}
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	isLit := func(s likeSeg) bool { return !s.any && !s.one }
	switch {
	case len(segs) == 0:
		return matcher{kind: likeEqual}
	case len(segs) == 1 && isLit(segs[0]):
		return matcher{kind: likeEqual, lit: segs[0].lit}
	case len(segs) == 1 && segs[0].any:
		return matcher{kind: likePrefix}
	case len(segs) == 2 && isLit(segs[0]) && segs[1].any:
		return matcher{kind: likePrefix, lit: segs[0].lit}
	case len(segs) == 2 && segs[0].any && isLit(segs[1]):
		return matcher{kind: likeSuffix, lit: segs[1].lit}
	case len(segs) == 3 && segs[0].any && isLit(segs[1]) && segs[2].any:
		return matcher{kind: likeContains, lit: segs[1].lit}
	}
	return matcher{kind: likeGeneral, segs: segs}
}

func (m *matcher) match(s string) bool {
	switch m.kind {
	case likeEqual:
		return s == m.lit
	case likePrefix:
		return strings.HasPrefix(s, m.lit)
	case likeSuffix:
		return strings.HasSuffix(s, m.lit)
	case likeContains:
		return strings.Contains(s, m.lit)
	}
	return matchSegs(m.segs, s)
}

// matchSegs is the classic wildcard matcher: it remembers the last %
// and, on a mismatch, retries with that % eating one more character. No
// allocation, O(len(segs)*len(s)) worst case.
func matchSegs(segs []likeSeg, s string) bool {
	si, pi := 0, 0
	starP, starS := -1, 0
	for {
		if pi < len(segs) {
			seg := segs[pi]
			switch {
			case seg.any:
				starP, starS = pi, si
				pi++
				continue
			case seg.one:
				if n, ok := skipRunes(s[si:], seg.skip); ok {
					si += n
					pi++
					continue
				}
			default:
				if strings.HasPrefix(s[si:], seg.lit) {
					si += len(seg.lit)
					pi++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		if starP < 0 || starS >= len(s) {
			return false
		}
		_, w := utf8.DecodeRuneInString(s[starS:])
		starS += w
		pi, si = starP+1, starS
	}
}

// skipRunes returns the byte length of the first n runes of s.
func skipRunes(s string, n int) (int, bool) {
	off := 0
	for ; n > 0; n-- {
		if off >= len(s) {
			return 0, false
		}
		_, w := utf8.DecodeRuneInString(s[off:])
		off += w
	}
	return off, true
}
