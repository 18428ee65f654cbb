package matrix

import (
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Redacted replaces every secret the report would otherwise show.
const Redacted = "[REDACTED]"

// minSecretLen is the shortest literal secret redacted verbatim: replacing a one- or two-letter
// value everywhere would shred the report, and such values are no secret anyway.
const minSecretLen = 4

// Redactor removes secrets from report text: the literal values it is given (the MAX token,
// database passwords) in plain, URL- and JSON-escaped form, and, defensively, anything that
// looks like one: URL passwords, password= and token= pairs, Authorization values and JSON
// members whose key names a secret.
type Redactor struct {
	secrets  []string
	patterns []redactPattern
}

type redactPattern struct {
	re   *regexp.Regexp
	repl string
	// may reports whether the pattern can match s, given s and s in lower case: a plain
	// search that spares the regular expression the text it cannot match, which is nearly
	// all of a report.
	may func(s, lower string) bool
}

// isASCII reports whether s is all ASCII.
func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// containsAny reports whether s contains any of subs.
func containsAny(s string, subs ...string) bool {
	return slices.ContainsFunc(subs, func(sub string) bool { return strings.Contains(s, sub) })
}

// NewRedactor returns a Redactor for the literal secrets (empty and very short ones ignored).
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{patterns: []redactPattern{
		// scheme://user:password@host
		{regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@"'<>]*:)([^\s@/"'<>]+)@`), "${1}" + Redacted + "@",
			func(s, _ string) bool { return strings.Contains(s, "://") && strings.Contains(s, "@") }},
		// password=..., token=... in DSNs, query strings and key=value logs
		{regexp.MustCompile(`(?i)\b(password|passwd|pwd|token|access_token|secret|api_key|apikey)=([^\s&"'<>;,]+)`), "${1}=" + Redacted,
			func(_, lower string) bool {
				return strings.Contains(lower, "=") && containsAny(lower, "passw", "pwd", "token", "secret", "api_key", "apikey")
			}},
		// Authorization: value, "Authorization":"value", authorization=value
		{regexp.MustCompile(`(?i)\b(authorization)(["']?\s*[:=]\s*["']?)((?:bearer\s+)?[^\s"'<>,}]+)`), "${1}${2}" + Redacted,
			func(_, lower string) bool { return strings.Contains(lower, "authorization") }},
		// "max_api_token": "...", "password": "..."
		{regexp.MustCompile(`(?i)("[a-z_]*(?:token|password|passwd|secret|authorization)"\s*:\s*")((?:[^"\\]|\\.)*)"`), "${1}" + Redacted + `"`,
			func(_, lower string) bool {
				return strings.Contains(lower, `"`) && containsAny(lower, "token", "passw", "secret", "authorization")
			}},
	}}
	for _, s := range secrets {
		if len(s) < minSecretLen {
			continue
		}
		forms := []string{s, url.QueryEscape(s), url.PathEscape(s)}
		if b, err := json.Marshal(s); err == nil {
			forms = append(forms, strings.Trim(string(b), `"`))
		}
		for _, f := range forms {
			if !slices.Contains(r.secrets, f) {
				r.secrets = append(r.secrets, f)
			}
		}
	}
	// Longest first, so a secret containing another is replaced whole.
	slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
	return r
}

// String returns s with every secret replaced by Redacted.
func (r *Redactor) String(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, Redacted)
	}
	// Case-insensitive regular expressions fold a few letters outside ASCII onto ASCII ones
	// (the Kelvin sign onto k), which a search of the lower-cased text may not: text with
	// any is left to the expressions.
	ascii := isASCII(s)
	lower := strings.ToLower(s)
	for _, p := range r.patterns {
		if !ascii || p.may(s, lower) {
			s = p.re.ReplaceAllString(s, p.repl)
			lower = strings.ToLower(s)
		}
	}
	return s
}

// sensitiveWords name a secret in a key.
var sensitiveWords = []string{"token", "password", "passwd", "secret", "authorization", "cookie"}

// sensitiveKey reports whether a map key names a secret, so its value goes whatever it is.
func sensitiveKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range sensitiveWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// Redact returns v (any JSON-encodable value, such as an Observation) with every secret
// removed as the report removes it, so it can be attached to a Ginkgo report whose JSON and
// JUnit files are written without redaction: a new value with every string redacted and
// every member under a secret-naming key replaced, or v itself when redacting it could
// change nothing (Redactor.mayChange on its JSON), which spares most values the generic
// walk's two more passes (half of building a report was this walk).
func Redact[T any](r *Redactor, v T) (T, error) {
	b, err := json.Marshal(v)
	if err != nil {
		var zero T
		return zero, err
	}
	if !r.mayChange(b) {
		return v, nil
	}
	return redactJSON[T](r, b)
}

// mayChange reports whether redacting the value encoded as b could change it: a literal
// secret in it, or text any pattern or secret-naming key could match. Every check is a
// search that the text of any one string or key of b passes only if b does, as JSON keeps
// them verbatim but for quotes, backslashes, control characters and <, > and & (escaped
// in b as in the secrets' JSON form, and searched for by no pattern's check).
func (r *Redactor) mayChange(b []byte) bool {
	s := string(b)
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			return true
		}
	}
	if !isASCII(s) {
		return true
	}
	lower := strings.ToLower(s)
	for _, p := range r.patterns {
		if p.may(s, lower) {
			return true
		}
	}
	return containsAny(lower, sensitiveWords...)
}

// redactJSON decodes b, the JSON of a value of type T, redacts every string and every
// member under a secret-naming key, and decodes the result into a new T.
func redactJSON[T any](r *Redactor, b []byte) (T, error) {
	var out T
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return out, err
	}
	b, err := json.Marshal(r.walk(generic))
	if err != nil {
		return out, err
	}
	err = json.Unmarshal(b, &out)
	return out, err
}

func (r *Redactor) walk(v any) any {
	switch x := v.(type) {
	case string:
		return r.String(x)
	case []any:
		for i := range x {
			x[i] = r.walk(x[i])
		}
		return x
	case map[string]any:
		for k, val := range x {
			if _, isString := val.(string); isString && sensitiveKey(k) {
				x[k] = Redacted
				continue
			}
			x[k] = r.walk(val)
		}
		return x
	}
	return v
}

// SecretsFromEnv returns the values of environment entries ("KEY=value") that hold secrets:
// keys naming a token, password or secret, and the passwords inside URL-valued entries such
// as DATABASE_URL. The report command redacts them whatever the observations carry.
func SecretsFromEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" {
			continue
		}
		if sensitiveKey(k) {
			out = append(out, v)
		}
		if u, err := url.Parse(v); err == nil && u.User != nil {
			if p, ok := u.User.Password(); ok && p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
