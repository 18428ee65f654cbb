package maxapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// Seed is the initial state of a fake, as read from a seed file:
//
//	{
//	  "bot":   {"user_id": 1000001, "first_name": "Bot", "username": "bot"},
//	  "chats": [
//	    {"chat_id": -100, "title": "Team", "participants_count": 3,
//	     "members": [{"user_id": 1, "first_name": "Ann", "is_owner": true}]}
//	  ]
//	}
//
// "bot" is optional (DefaultBot otherwise). Chats and members use the JSON form
// of Chat and Member; times are Unix milliseconds. Unknown fields are errors,
// so a misspelt field does not silently vanish.
type Seed struct {
	Bot   *Bot   `json:"bot,omitempty"`
	Chats []Chat `json:"chats"`
}

// ParseSeed decodes and checks a seed. It wraps ErrInvalid when a chat,
// member or bot could not come from the real API, or a chat id repeats.
func ParseSeed(data []byte) (Seed, error) {
	var seed Seed
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&seed); err != nil {
		return Seed{}, fmt.Errorf("parse seed: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Seed{}, fmt.Errorf("parse seed: trailing data after the seed object: %w", ErrInvalid)
	}
	if err := seed.Validate(); err != nil {
		return Seed{}, fmt.Errorf("parse seed: %w", err)
	}
	return seed, nil
}

// ReadSeedFile reads and parses the seed file at path.
func ReadSeedFile(path string) (Seed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Seed{}, fmt.Errorf("read seed file: %w", err)
	}
	seed, err := ParseSeed(data)
	if err != nil {
		return Seed{}, fmt.Errorf("seed file %s: %w", path, err)
	}
	return seed, nil
}

// Validate checks the seed as NewServer would, without panicking. It wraps
// ErrInvalid.
func (s Seed) Validate() error {
	if s.Bot != nil {
		if err := s.Bot.validate(); err != nil {
			return err
		}
	}
	for _, c := range s.Chats {
		// The timestamp only fills defaults; any value checks the same.
		if _, err := c.normalize(1); err != nil {
			return err
		}
	}
	if dup := duplicateChat(s.Chats); dup != 0 {
		return fmt.Errorf("chat %d given twice: %w", dup, ErrInvalid)
	}
	return nil
}

// ApplySeed puts the seed's chats (replacing chats with the same ids) and, if
// it has one, its bot. It changes the current state only; Reset still returns
// to the state NewServer built.
func (s *Server) ApplySeed(seed Seed) error {
	if err := seed.Validate(); err != nil {
		return fmt.Errorf("apply seed: %w", err)
	}
	if seed.Bot != nil {
		if err := s.SetBot(*seed.Bot); err != nil {
			return fmt.Errorf("apply seed: %w", err)
		}
	}
	for _, c := range seed.Chats {
		if err := s.PutChat(c); err != nil {
			return fmt.Errorf("apply seed: %w", err)
		}
	}
	return nil
}
