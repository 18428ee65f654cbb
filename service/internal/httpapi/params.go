package httpapi

import (
	"net/url"
	"strconv"
	"unicode/utf8"

	"github.com/faultline/faultline/service/internal/chat"
)

// maxEchoLen bounds how much of a client's input an error message repeats.
const maxEchoLen = 64

// echo quotes client input for an error message, shortened so that a huge parameter
// cannot make a huge response.
func echo(s string) string {
	if len(s) > maxEchoLen {
		cut := maxEchoLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return strconv.Quote(s)
}

func invalid(format string, args ...any) error {
	return chat.Errorf(chat.EINVALID, format, args...)
}

// parseQuery parses a raw query string strictly: every key must be in allowed and appear
// once. It returns the single value of each key present.
func parseQuery(raw string, allowed ...string) (map[string]string, error) {
	values, err := url.ParseQuery(raw)
	if err != nil {
		return nil, invalid("malformed query string")
	}
	out := make(map[string]string, len(values))
	for key, vs := range values {
		known := false
		for _, a := range allowed {
			if key == a {
				known = true
			}
		}
		if !known {
			return nil, invalid("unknown query parameter %s", echo(key))
		}
		if len(vs) != 1 {
			return nil, invalid("query parameter %s given %d times, want once", key, len(vs))
		}
		out[key] = vs[0]
	}
	return out, nil
}

// parseDecimal parses a non-negative decimal integer written with digits only: no sign,
// no spaces, no other base. It reports false when s is not such a number or overflows.
func parseDecimal(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// parsePage reads limit and offset of GET /chats/all.
func parsePage(rawQuery string) (chat.Page, error) {
	q, err := parseQuery(rawQuery, "limit", "offset")
	if err != nil {
		return chat.Page{}, err
	}
	page := chat.Page{Limit: chat.DefaultLimit}
	if v, ok := q["limit"]; ok {
		n, ok := parseDecimal(v)
		if !ok || n < 1 || n > chat.MaxLimit {
			return chat.Page{}, invalid("query parameter limit must be an integer from 1 to %d, got %s", chat.MaxLimit, echo(v))
		}
		page.Limit = int(n)
	}
	if v, ok := q["offset"]; ok {
		n, ok := parseDecimal(v)
		// An offset past MaxInt32 cannot select anything real and would only stress the
		// database with a huge skip.
		if !ok || n > 1<<31-1 {
			return chat.Page{}, invalid("query parameter offset must be a non-negative integer, got %s", echo(v))
		}
		page.Offset = int(n)
	}
	return page, nil
}

// parseChatID reads the {id} path segment: a positive 64-bit integer.
func parseChatID(s string) (int64, error) {
	n, ok := parseDecimal(s)
	if !ok || n < 1 {
		return 0, invalid("chat id must be a positive integer, got %s", echo(s))
	}
	return n, nil
}

// requireNoQuery rejects any query parameter on endpoints that take none, so a typo such
// as ?limt=5 is an error rather than silently ignored.
func requireNoQuery(rawQuery string) error {
	_, err := parseQuery(rawQuery)
	return err
}
