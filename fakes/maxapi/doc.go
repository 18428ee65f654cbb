// Package maxapi is an in-memory fake of the MAX messenger Bot API
// (https://platform-api2.max.ru) for tests and for running a client by hand.
//
// A *Server is an http.Handler whose zero value is ready for use. It serves the
// endpoints a chat service needs, faithfully to the published OpenAPI
// description:
//
//	GET /me                      BotInfo
//	GET /chats/{chatId}          Chat (times in Unix milliseconds)
//	GET /chats/{chatId}/members  ChatMembersList (marker/count pagination, user_ids)
//
// Authentication follows the real API: the token travels in the Authorization
// header without a "Bearer" prefix; a missing or wrong token gets 401
// verify.token, and a token in the access_token query parameter gets 403
// deprecated.token. Requests above the per-token rate limit (30 per second by
// default) get 429 too.many.requests. Anything the fake does not serve gets 404
// method.not.found and is journaled with the endpoint EndpointUnknown, so a
// client that calls something unexpected fails loudly.
//
// State (chats, members, the bot) and faults are changed with plain methods
// (PutChat, SetParticipants, Fail, FailNext, ClearFaults, Reset, ...) or over
// the admin HTTP API that the same handler serves under AdminPrefix. Every
// request to the API is recorded in a journal (Journal, Calls, Count) that tests
// poll; the fake never blocks a test waiting for traffic.
//
// The fake has no randomness: given the same state, faults and clock it answers
// byte for byte the same.
package maxapi
