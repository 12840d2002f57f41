// The Go side of go-parity.spec.ts: one process reads `<kind>\t<hex input>` lines and answers
// `ok\t<hex output>` or `err\t` per line, using only the Go standard library.
export const GO_PARITY_PROGRAM = `package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// canonical re-serialises a decoded value as spec/server.md §5.2 describes it.
func canonical(value any, buf *bytes.Buffer) error {
	switch v := value.(type) {
	case map[string]any:
		names := make([]string, 0, len(v))
		for name := range v {
			names = append(names, name)
		}
		sort.Strings(names)
		buf.WriteByte('{')
		for i, name := range names {
			if i > 0 {
				buf.WriteByte(',')
			}
			encoded, err := json.Marshal(name)
			if err != nil {
				return err
			}
			buf.Write(encoded)
			buf.WriteByte(':')
			if err := canonical(v[name], buf); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, item := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := canonical(item, buf); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	default:
		encoded, err := json.Marshal(v)
		if err != nil {
			return err
		}
		buf.Write(encoded)
	}
	return nil
}

// bound is a struct as the protocol's request and response types are: scalar fields (a null leaves
// them as they were) and reference fields (a null clears them), bound by Go's member matching.
type bound struct {
	Reason  string          \`json:"reason"\`
	Pending bool            \`json:"has_local_pending_rows"\`
	Rows    []string        \`json:"rows"\`
	Payload json.RawMessage \`json:"payload"\`
}

// integer is an int64 field as the protocol's sequence numbers and counts are.
type integer struct {
	N int64 \`json:"n"\`
}

func answer(kind string, in []byte) ([]byte, error) {
	s := string(in)
	switch kind {
	case "float":
		return json.Marshal(math.Float64frombits(binary.BigEndian.Uint64(in)))
	case "string":
		return json.Marshal(s)
	case "canonical":
		var value any
		if err := json.Unmarshal(in, &value); err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		err := canonical(value, &buf)
		return buf.Bytes(), err
	case "bind":
		var b bound
		if err := json.Unmarshal(in, &b); err != nil {
			return nil, err
		}
		return json.Marshal(b)
	case "bind-int":
		var n integer
		if err := json.Unmarshal(in, &n); err != nil {
			return nil, err
		}
		return json.Marshal(n)
	case "depth":
		var value any
		if err := json.Unmarshal(in, &value); err != nil {
			return nil, err
		}
		return []byte("ok"), nil
	case "decode-string":
		var text string
		if err := json.Unmarshal(in, &text); err != nil {
			return nil, err
		}
		return []byte(text), nil
	case "compact":
		return json.Marshal(json.RawMessage(in))
	case "quote":
		return []byte(strconv.Quote(s)), nil
	case "base64":
		return base64.StdEncoding.DecodeString(s)
	case "hex":
		return hex.DecodeString(s)
	case "trim":
		return []byte(strings.TrimSpace(s)), nil
	case "lower":
		return []byte(strings.ToLower(s)), nil
	case "upper":
		return []byte(strings.ToUpper(s)), nil
	case "fold":
		return []byte(strconv.FormatBool(strings.EqualFold(s, "_sync_scope_id"))), nil
	case "int":
		n, err := strconv.ParseInt(s, 10, 64)
		return []byte(strconv.FormatInt(n, 10)), err
	case "time":
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, err
		}
		return []byte(fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())), nil
	case "format":
		nanos, err := strconv.ParseInt(s, 10, 64)
		return []byte(time.Unix(0, nanos).UTC().Format(time.RFC3339Nano)), err
	}
	return nil, fmt.Errorf("unknown kind %q", kind)
}

func main() {
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1<<20), 1<<26)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for scanner.Scan() {
		kind, input, _ := strings.Cut(scanner.Text(), "\\t")
		in, err := hex.DecodeString(input)
		if err != nil {
			panic(err)
		}
		result, err := answer(kind, in)
		if err != nil {
			fmt.Fprint(out, "err\\t\\n")
		} else {
			fmt.Fprintf(out, "ok\\t%x\\n", result)
		}
	}
	if err := scanner.Err(); err != nil {
		panic(err)
	}
}
`;
