package change

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"
)

// KeyID encodes key values canonically: two keys are equal exactly when
// their IDs are. Each value is tagged with its Go type, so 1 and "1" differ.
func KeyID(values []any) string {
	b := make([]byte, 0, 16*len(values))
	for _, v := range values {
		b = appendKeyValue(b, v)
	}
	return string(b)
}

func appendKeyValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, 'n')
	case bool:
		if x {
			return append(b, 't')
		}
		return append(b, 'f')
	case int64:
		b = append(b, 'i')
		return binary.BigEndian.AppendUint64(b, uint64(x))
	case float64:
		b = append(b, 'd')
		return binary.BigEndian.AppendUint64(b, math.Float64bits(x))
	case string:
		b = append(b, 's')
		b = binary.AppendUvarint(b, uint64(len(x)))
		return append(b, x...)
	case []byte:
		b = append(b, 'b')
		b = binary.AppendUvarint(b, uint64(len(x)))
		return append(b, x...)
	case time.Time:
		b = append(b, 'T')
		b = binary.BigEndian.AppendUint64(b, uint64(x.Unix()))
		return binary.BigEndian.AppendUint32(b, uint32(x.Nanosecond()))
	case Decimal:
		// Normalise the scale away so 1.0 and 1.00 are one key.
		s := x.String()
		if strings.IndexByte(s, '.') >= 0 {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		b = append(b, 'D')
		b = binary.AppendUvarint(b, uint64(len(s)))
		return append(b, s...)
	case TimeOfDay:
		b = append(b, 'h')
		return binary.BigEndian.AppendUint64(b, uint64(x))
	default:
		s := fmt.Sprintf("%T:%v", v, v)
		b = append(b, 'x')
		b = binary.AppendUvarint(b, uint64(len(s)))
		return append(b, s...)
	}
}
