package config

import (
	"fmt"
	"strings"
)

// Pos is a position in a configuration file.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	switch {
	case p.File == "" && p.Line == 0:
		return "-"
	case p.Line == 0:
		return p.File
	default:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
}

// Warning is a non-fatal remark about the configuration (unknown or ignored
// keyword, value adjusted the way keepalived adjusts it).
type Warning struct {
	Pos Pos
	Msg string
}

func (w Warning) String() string { return w.Pos.String() + ": " + w.Msg }

// Error is one configuration error: "FILE:LINE: what is wrong".
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Errors is every error found in one load, in file order.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// maxErrors bounds the report so a garbage file does not produce megabytes.
const maxErrors = 50

// diag collects errors and warnings while parsing.
type diag struct {
	errs  Errors
	warns []Warning
}

func (d *diag) errorf(p Pos, format string, args ...any) {
	if len(d.errs) < maxErrors {
		d.errs = append(d.errs, &Error{Pos: p, Msg: fmt.Sprintf(format, args...)})
	}
}

func (d *diag) warnf(p Pos, format string, args ...any) {
	if len(d.warns) < 10*maxErrors {
		d.warns = append(d.warns, Warning{Pos: p, Msg: fmt.Sprintf(format, args...)})
	}
}

func (d *diag) err() error {
	if len(d.errs) == 0 {
		return nil
	}
	return d.errs
}
