package kernels

import "fmt"

// FieldError is an invalid setting: the field that holds it, as a Go
// path in the settings struct of the package that reports it ("Model",
// "Surrogate.Gamma", "Range.Min"), its value, and why. Layers above name
// the field their own way (package options by a table of flag names), so
// no caller ever reads an error's text.
type FieldError struct {
	// Pkg is the reporting package, the prefix of Error.
	Pkg    string
	Field  string
	Value  any
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %s %s: %s", e.Pkg, e.Field, FormatValue(e.Value), e.Reason)
}

// FormatValue writes a setting's value as a message quotes it: strings
// quoted, everything else as %v.
func FormatValue(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}

func fieldError(field string, value any, format string, args ...any) error {
	return &FieldError{Pkg: "kernels", Field: field, Value: value, Reason: fmt.Sprintf(format, args...)}
}
