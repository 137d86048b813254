package sdk

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// AgentTaskKey is the idempotency key the SDK sends when an agent schedules
// a task: "task:" + the hex of the first 16 bytes of
// SHA-256(agent id as its 16 raw bytes ‖ ":" ‖ kind ‖ ":" ‖ canonical input),
// the formula of the Rust SDK. Scheduling the same kind with the same input
// again (as a resumed agent does when it runs from the top) therefore names
// the same task. input must be JSON; an unparsable agentID counts as the nil
// UUID, as in the Rust SDK.
func AgentTaskKey(agentID, kind string, input json.RawMessage) (string, error) {
	id, err := uuid.Parse(agentID)
	if err != nil {
		id = uuid.Nil
	}
	canonical, err := CanonicalJSON(input)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(id[:])
	h.Write([]byte(":"))
	h.Write([]byte(kind))
	h.Write([]byte(":"))
	h.Write([]byte(canonical))
	return "task:" + hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// AgentTaskID is the id of the task scheduled with idempotency key key:
// UUIDv5(NAMESPACE_OID, key). The server gives the task that id, so the SDK
// names a task before (and without) asking the server.
func AgentTaskID(key string) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(key)).String()
}

// CanonicalJSON writes a JSON document compactly with the keys of every
// object sorted (byte order), the form hashed by AgentTaskKey. Scalars are
// written as serde_json (the Rust SDK's JSON library) writes them, so that
// a given JSON text gets the same key in both SDKs: integers that fit 64
// bits as integers, other numbers in Rust's shortest float notation (1.0,
// 0.001, 1e21), strings escaping only '"', '\\' and control characters.
// Object keys are written between quotes without escaping, as the Rust SDK
// does.
func CanonicalJSON(raw json.RawMessage) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("flovyn: canonical JSON: %w", err)
	}
	if dec.More() {
		return "", fmt.Errorf("flovyn: canonical JSON: trailing data")
	}
	var b strings.Builder
	if err := writeCanonical(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

func writeCanonical(b *strings.Builder, v any) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case string:
		writeSerdeString(b, x)
	case json.Number:
		s, err := serdeNumber(string(x))
		if err != nil {
			return err
		}
		b.WriteString(s)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeCanonical(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('"')
			b.WriteString(k)
			b.WriteString(`":`)
			if err := writeCanonical(b, x[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("flovyn: canonical JSON: unexpected %T", v)
	}
	return nil
}

const hexDigits = "0123456789abcdef"

// writeSerdeString quotes s as serde_json does.
func writeSerdeString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xf])
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}

// serdeNumber writes a JSON number as serde_json writes the value it parses
// it to: an integer literal that fits int64 or uint64 stays an integer,
// anything else is an f64 written in the notation of the ryu crate.
func serdeNumber(lit string) (string, error) {
	if !strings.ContainsAny(lit, ".eE") {
		if strings.HasPrefix(lit, "-") && strings.Trim(lit[1:], "0") == "" {
			return "-0.0", nil // serde_json reads -0 as the float -0.0
		}
		if n, err := strconv.ParseInt(lit, 10, 64); err == nil {
			return strconv.FormatInt(n, 10), nil
		}
		if n, err := strconv.ParseUint(lit, 10, 64); err == nil {
			return strconv.FormatUint(n, 10), nil
		}
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(f, 0) {
		return "", fmt.Errorf("flovyn: canonical JSON: number %s out of range", lit)
	}
	return ryuFormat(f), nil
}

// ryuFormat writes a finite f64 like Rust's ryu::Buffer::format: the
// shortest digits that round-trip, as a decimal with at least one digit
// after the point when the decimal exponent is in [-5, 16), else as
// d.ddde±x without a plus sign.
func ryuFormat(f float64) string {
	var b strings.Builder
	if math.Signbit(f) {
		b.WriteByte('-')
		f = -f
	}
	if f == 0 {
		b.WriteString("0.0")
		return b.String()
	}
	// Shortest round-trip digits and exponent: d.ddddde±x.
	e := strconv.FormatFloat(f, 'e', -1, 64)
	mant, expPart, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	exp, _ := strconv.Atoi(expPart)
	length := len(digits)
	k := exp - length + 1 // value = digits × 10^k
	kk := length + k      // 10^(kk-1) <= value < 10^kk
	switch {
	case k >= 0 && kk <= 16:
		b.WriteString(digits)
		b.WriteString(strings.Repeat("0", k))
		b.WriteString(".0")
	case kk > 0 && kk <= 16:
		b.WriteString(digits[:kk])
		b.WriteByte('.')
		b.WriteString(digits[kk:])
	case kk > -5 && kk <= 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -kk))
		b.WriteString(digits)
	case length == 1:
		b.WriteString(digits)
		b.WriteByte('e')
		b.WriteString(strconv.Itoa(kk - 1))
	default:
		b.WriteString(digits[:1])
		b.WriteByte('.')
		b.WriteString(digits[1:])
		b.WriteByte('e')
		b.WriteString(strconv.Itoa(kk - 1))
	}
	return b.String()
}
