package avroconv

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
)

// appendPayload decodes one Avro binary datum of schema s and appends it
// as the JSON payload JsonConverter writes for the same Connect data:
// bytes and decimals in base64, optional values bare, enums as their
// symbols, maps as objects, non-finite floats as the strings "NaN",
// "Infinity" and "-Infinity" (as Jackson writes them). The whole of data
// must be the one datum.
func appendPayload(dst []byte, s avro.Schema, data []byte) ([]byte, error) {
	r := reader{b: data}
	dst, err := r.value(dst, s, 0)
	if err != nil {
		return nil, err
	}
	if r.i != len(r.b) {
		return nil, fmt.Errorf("%d bytes left after the Avro datum", len(r.b)-r.i)
	}
	return dst, nil
}

var errShort = errors.New("the Avro datum ends early")

// reader reads Avro's binary encoding from a byte slice. Every length is
// checked against the bytes left, so no input makes it allocate more than
// its own size.
type reader struct {
	b []byte
	i int
}

// long reads a zigzag varint.
func (r *reader) long() (int64, error) {
	var u uint64
	for shift := uint(0); shift < 70; shift += 7 {
		if r.i >= len(r.b) {
			return 0, errShort
		}
		c := r.b[r.i]
		r.i++
		if shift == 63 && c > 1 {
			return 0, errors.New("varint overflows 64 bits")
		}
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
	}
	return 0, errors.New("varint overflows 64 bits")
}

func (r *reader) int() (int64, error) {
	n, err := r.long()
	if err == nil && (n < math.MinInt32 || n > math.MaxInt32) {
		return 0, fmt.Errorf("int %d out of the 32-bit range", n)
	}
	return n, err
}

func (r *reader) fixed(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.i {
		return nil, errShort
	}
	b := r.b[r.i : r.i+n]
	r.i += n
	return b, nil
}

func (r *reader) bytes() ([]byte, error) {
	n, err := r.long()
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("negative length %d", n)
	}
	if n > int64(len(r.b)-r.i) {
		return nil, errShort
	}
	return r.fixed(int(n))
}

// items calls item for each item of an array or map, block by block
// until the empty block that ends it; first is true for the first item.
func (r *reader) items(item func(first bool) error) error {
	first := true
	for {
		n, err := r.count()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		for ; n > 0; n-- {
			if err := item(first); err != nil {
				return err
			}
			first = false
		}
	}
}

// count reads an array or map block's item count: 0 ends the blocks; a
// negative count is followed by the block's size in bytes.
func (r *reader) count() (int64, error) {
	n, err := r.long()
	if err != nil {
		return 0, err
	}
	if n < 0 {
		if n == math.MinInt64 {
			return 0, errors.New("invalid block count")
		}
		n = -n
		if _, err := r.long(); err != nil {
			return 0, err
		}
	}
	// Items of most types take a byte at least; the bound keeps a forged
	// count of empty items (nulls, empty records) from looping for long.
	if n > int64(len(r.b)-r.i) && n > 1<<16 {
		return 0, fmt.Errorf("block count %d exceeds the datum", n)
	}
	return n, nil
}

// value appends the JSON form of one datum of schema s.
func (r *reader) value(dst []byte, s avro.Schema, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("datum nested deeper than %d levels", maxDepth)
	}
	switch s := s.(type) {
	case *avro.RefSchema:
		return r.value(dst, s.Schema(), depth+1)
	case *avro.UnionSchema:
		i, err := r.long()
		if err != nil {
			return nil, err
		}
		types := s.Types()
		if i < 0 || i >= int64(len(types)) {
			return nil, fmt.Errorf("union branch %d of %d", i, len(types))
		}
		return r.value(dst, types[i], depth+1)
	case *avro.RecordSchema:
		dst = append(dst, '{')
		for i, f := range s.Fields() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, f.Name())
			dst = append(dst, ':')
			var err error
			if dst, err = r.value(dst, f.Type(), depth+1); err != nil {
				return nil, fmt.Errorf("field %q: %w", f.Name(), err)
			}
		}
		return append(dst, '}'), nil
	case *avro.ArraySchema:
		dst = append(dst, '[')
		err := r.items(func(first bool) (err error) {
			if !first {
				dst = append(dst, ',')
			}
			dst, err = r.value(dst, s.Items(), depth+1)
			return err
		})
		if err != nil {
			return nil, err
		}
		return append(dst, ']'), nil
	case *avro.MapSchema:
		dst = append(dst, '{')
		err := r.items(func(first bool) error {
			if !first {
				dst = append(dst, ',')
			}
			k, err := r.bytes()
			if err != nil {
				return err
			}
			if !utf8.Valid(k) {
				return errors.New("map key is not UTF-8")
			}
			dst = appendString(dst, string(k))
			dst = append(dst, ':')
			dst, err = r.value(dst, s.Values(), depth+1)
			return err
		})
		if err != nil {
			return nil, err
		}
		return append(dst, '}'), nil
	case *avro.EnumSchema:
		i, err := r.int()
		if err != nil {
			return nil, err
		}
		sym, ok := s.Symbol(int(i))
		if !ok {
			return nil, fmt.Errorf("enum index %d of %d symbols", i, len(s.Symbols()))
		}
		return appendString(dst, sym), nil
	case *avro.FixedSchema:
		b, err := r.fixed(s.Size())
		if err != nil {
			return nil, err
		}
		return appendBase64(dst, b), nil
	case *avro.NullSchema:
		return append(dst, "null"...), nil
	case *avro.PrimitiveSchema:
		return r.primitive(dst, s.Type())
	}
	return nil, fmt.Errorf("unsupported Avro schema %s", s.Type())
}

func (r *reader) primitive(dst []byte, t avro.Type) ([]byte, error) {
	switch t {
	case avro.Null:
		return append(dst, "null"...), nil
	case avro.Boolean:
		b, err := r.fixed(1)
		if err != nil {
			return nil, err
		}
		switch b[0] {
		case 0:
			return append(dst, "false"...), nil
		case 1:
			return append(dst, "true"...), nil
		}
		return nil, fmt.Errorf("boolean byte %d", b[0])
	case avro.Int:
		n, err := r.int()
		if err != nil {
			return nil, err
		}
		return strconv.AppendInt(dst, n, 10), nil
	case avro.Long:
		n, err := r.long()
		if err != nil {
			return nil, err
		}
		return strconv.AppendInt(dst, n, 10), nil
	case avro.Float:
		b, err := r.fixed(4)
		if err != nil {
			return nil, err
		}
		return appendFloat(dst, float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), 32), nil
	case avro.Double:
		b, err := r.fixed(8)
		if err != nil {
			return nil, err
		}
		return appendFloat(dst, math.Float64frombits(binary.LittleEndian.Uint64(b)), 64), nil
	case avro.Bytes:
		b, err := r.bytes()
		if err != nil {
			return nil, err
		}
		return appendBase64(dst, b), nil
	case avro.String:
		b, err := r.bytes()
		if err != nil {
			return nil, err
		}
		if !utf8.Valid(b) {
			return nil, errors.New("string is not UTF-8")
		}
		return appendString(dst, string(b)), nil
	}
	return nil, fmt.Errorf("unsupported Avro type %s", t)
}

// appendFloat writes a float as JSON, the shortest form that reads back
// to the same value at its width; non-finite values as Jackson quotes them.
func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

func appendBase64(dst, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// appendString writes s, valid UTF-8, as a JSON string.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
