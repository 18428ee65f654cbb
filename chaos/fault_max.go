package chaos

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/faultline/faultline/fakes/maxapi"
)

// MaxFault is a fault of the fake MAX API's HTTP answers. By default it applies to every
// endpoint (the health probe's GET /me included) and every chat, until undone; the methods
// narrow it and return a modified copy.
type MaxFault struct {
	name  string
	fault maxapi.Fault
}

// MaxStatus answers every call with code and the API's error body for it.
func MaxStatus(code int) MaxFault {
	return MaxFault{name: fmt.Sprintf("max-status(%d)", code), fault: maxapi.Status(code)}
}

// MaxRateLimited answers 429 with a Retry-After of retryAfter (in whole seconds, rounded
// up), or without the header when retryAfter is 0.
func MaxRateLimited(retryAfter time.Duration) MaxFault {
	return MaxFault{name: fmt.Sprintf("max-rate-limited(%s)", retryAfter), fault: maxapi.RateLimited(retryAfter)}
}

// MaxUnauthorized answers 401 verify.token, as MAX does for a revoked token.
func MaxUnauthorized() MaxFault {
	return MaxFault{name: "max-unauthorized", fault: maxapi.Status(http.StatusUnauthorized)}
}

// MaxForbidden answers 403.
func MaxForbidden() MaxFault {
	return MaxFault{name: "max-forbidden", fault: maxapi.Status(http.StatusForbidden)}
}

// MaxNotFound answers 404, as MAX does for a chat the bot is not in.
func MaxNotFound() MaxFault {
	return MaxFault{name: "max-not-found", fault: maxapi.Status(http.StatusNotFound)}
}

// MaxMalformed answers 200 with a body that is not valid JSON.
func MaxMalformed() MaxFault {
	return MaxFault{name: "max-malformed", fault: maxapi.MalformedJSON()}
}

// MaxWrongTypes answers 200 with every number of the body sent as a string.
func MaxWrongTypes() MaxFault {
	return MaxFault{name: "max-wrong-types", fault: maxapi.WrongTypes()}
}

// MaxMissingCount answers GET /chats/{chatId} with 200 and a chat that lacks
// participants_count.
func MaxMissingCount() MaxFault {
	return MaxFault{name: "max-missing-count", fault: maxapi.StatusBody(http.StatusOK,
		`{"chat_id":-1,"type":"chat","status":"active","title":null,"icon":null,"last_event_time":0,"owner_id":null,"participants":null,"is_public":false,"link":null,"description":null}`).
		OnEndpoint(maxapi.EndpointChat)}
}

// MaxHang holds every call until the client gives up or the fault is undone.
func MaxHang() MaxFault { return MaxFault{name: "max-hang", fault: maxapi.Hang()} }

// MaxSlow delays every answer by d.
func MaxSlow(d time.Duration) MaxFault {
	return MaxFault{name: fmt.Sprintf("max-slow(%s)", d), fault: maxapi.Latency(d)}
}

// MaxTruncated declares the full Content-Length, sends half the body and closes.
func MaxTruncated() MaxFault { return MaxFault{name: "max-truncated", fault: maxapi.Truncated()} }

// MaxOversized pads the body to at least size bytes (still valid JSON).
func MaxOversized(size int) MaxFault {
	return MaxFault{name: fmt.Sprintf("max-oversized(%d)", size), fault: maxapi.Oversized(size)}
}

// MaxDisconnect closes the connection in the middle of the response headers.
func MaxDisconnect() MaxFault { return MaxFault{name: "max-disconnect", fault: maxapi.Disconnect()} }

// MaxCustom installs any fault of the fake, for cases the named ones do not cover.
func MaxCustom(name string, f maxapi.Fault) MaxFault { return MaxFault{name: name, fault: f} }

// OnChat limits the fault to calls for the MAX chat maxChatID.
func (f MaxFault) OnChat(maxChatID int64) MaxFault {
	f.fault = f.fault.OnChat(maxChatID)
	f.name += fmt.Sprintf(" chat=%d", maxChatID)
	return f
}

// OnEndpoint limits the fault to one endpoint, for example maxapi.EndpointChat.
func (f MaxFault) OnEndpoint(endpoint string) MaxFault {
	f.fault = f.fault.OnEndpoint(endpoint)
	f.name += " endpoint=" + endpoint
	return f
}

// Times makes the fault answer only the next n matching calls.
func (f MaxFault) Times(n int) MaxFault {
	f.fault.Times = n
	f.name += fmt.Sprintf(" times=%d", n)
	return f
}

// Fault is the fake's own description of the fault.
func (f MaxFault) Fault() maxapi.Fault { return f.fault }

// String names the fault.
func (f MaxFault) String() string { return f.name }

func (f MaxFault) inject(_ context.Context, e *Env) (UndoFunc, error) {
	id, err := e.max.AddFault(f.fault)
	if err != nil {
		return nil, err
	}
	return func(context.Context) error {
		e.max.ClearFault(id)
		return nil
	}, nil
}
