package postgres

import (
	"net/url"
	"strings"
)

// redactedError hides secrets in an error's text while keeping the error chain for
// errors.Is and errors.As.
type redactedError struct {
	err     error
	secrets []string
}

func (e *redactedError) Error() string {
	s := e.err.Error()
	for _, secret := range e.secrets {
		s = strings.ReplaceAll(s, secret, "xxxxx")
	}
	return s
}

func (e *redactedError) Unwrap() error { return e.err }

// redact returns err with every occurrence of the secrets masked in its text. Driver
// errors do not normally carry the password, but a malformed DSN can be echoed by the
// parser; this is the guarantee that nothing we return repeats it.
func redact(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			return &redactedError{err: err, secrets: secrets}
		}
	}
	return err
}

// dsnSecrets extracts the password of a URL or keyword/value DSN, best effort, in every
// spelling an error might repeat it (decoded and as written).
func dsnSecrets(dsn string) []string {
	var out []string
	add := func(s string) {
		if s != "" {
			out = append(out, s)
		}
	}
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			add(pw)
		}
	}
	for _, field := range strings.Fields(dsn) {
		if v, ok := strings.CutPrefix(field, "password="); ok {
			add(strings.Trim(v, "'"))
		}
	}
	// The password as written in a URL, which also covers URLs too broken to parse: what
	// lies between the user's colon and the last @ of the authority.
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if colon := strings.Index(rest[:at], ":"); colon >= 0 {
				add(rest[colon+1 : at])
			}
		}
	}
	return out
}
