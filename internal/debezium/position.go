package debezium

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/fastjson"
)

// sourcePosition encodes an envelope's source block as a change.Position:
//
//	MySQL/MariaDB  "m" + binlog file number + position + row   (file first:
//	               the position restarts when the binlog rotates)
//	PostgreSQL     "p" + last committed LSN + change LSN     (commit order,
//	               then WAL order inside the transaction)
//	SQL Server     "s" + commit LSN + change LSN + event serial number
//
// each number as fixed-width hex, so byte order is numeric order. Anything
// else is unknown ("").
func (d *Decoder) sourcePosition(src *fastjson.Value) change.Position {
	if src == nil || src.Type() != fastjson.TypeObject {
		return ""
	}
	if file := src.GetStringBytes("file"); file != nil && src.Exists("pos") {
		return mysqlPosition(string(file), intField(src, "pos"), intField(src, "row"))
	}
	if lsn, ok := intFieldOK(src, "lsn"); ok {
		return d.pgPosition(lsn, src.GetStringBytes("sequence"))
	}
	if commit := src.GetStringBytes("commit_lsn"); commit != nil {
		return sqlServerPosition(string(commit), string(src.GetStringBytes("change_lsn")), intField(src, "event_serial_no"))
	}
	return ""
}

// flattenedPosition reads the position ExtractNewRecordState copies into
// __-prefixed fields (add.fields=source.file,source.pos,… or lsn).
func (d *Decoder) flattenedPosition(v *fastjson.Value) change.Position {
	if file := v.GetStringBytes("__source_file"); file != nil {
		return mysqlPosition(string(file), intField(v, "__source_pos"), intField(v, "__source_row"))
	}
	for _, name := range []string{"__lsn", "__source_lsn"} {
		if lsn, ok := intFieldOK(v, name); ok {
			return d.pgPosition(lsn, v.GetStringBytes("__source_sequence"))
		}
	}
	return ""
}

func mysqlPosition(file string, pos, row int64) change.Position {
	// mysql-bin.000003 → 3. A name without a number sorts as file 0.
	j := len(file)
	for j > 0 && file[j-1] >= '0' && file[j-1] <= '9' {
		j--
	}
	num, _ := strconv.ParseUint(file[j:], 10, 64)
	var buf [41]byte
	b := buf[:0]
	b = append(b, 'm')
	b = appendHex(b, num, 16)
	b = appendHex(b, uint64(pos), 16)
	b = appendHex(b, uint64(uint32(row)), 8)
	return change.Position(b)
}

// appendHex appends v as width lower-case hex digits (v < 16^width).
func appendHex(b []byte, v uint64, width int) []byte {
	const digits = "0123456789abcdef"
	for i := width - 1; i >= 0; i-- {
		b = append(b, digits[(v>>(4*uint(i)))&0xf])
	}
	return b
}

func (d *Decoder) pgPosition(lsn int64, sequence []byte) change.Position {
	commit := lsn
	if c, ok := d.lastCommittedLSN(sequence); ok {
		commit = c
	}
	var buf [33]byte
	b := buf[:0]
	b = append(b, 'p')
	b = appendHex(b, uint64(commit), 16)
	b = appendHex(b, uint64(lsn), 16)
	return change.Position(b)
}

// lastCommittedLSN reads the first element of PostgreSQL's
// source.sequence, a JSON array inside a string: ["<last committed>","<current>"].
func (d *Decoder) lastCommittedLSN(sequence []byte) (int64, bool) {
	if len(sequence) == 0 {
		return 0, false
	}
	v, err := d.qp.ParseBytes(sequence)
	if err != nil {
		return 0, false
	}
	arr, err := v.Array()
	if err != nil || len(arr) == 0 {
		return 0, false
	}
	s, err := arr[0].StringBytes()
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(string(s), 10, 64)
	return n, err == nil
}

func sqlServerPosition(commit, chg string, serial int64) change.Position {
	hexOnly := func(s string) string { return fmt.Sprintf("%-24s", strings.ReplaceAll(s, ":", "")) }
	return change.Position("s" + hexOnly(commit) + hexOnly(chg) + fmt.Sprintf("%016x", uint64(serial)))
}

// placeholders recognises PostgreSQL's unchanged-TOAST placeholder in every
// form UnchangedToastedPlaceholder gives it: the string; its UTF-8 bytes in
// base64; one-element lists of either; the list of its byte values (int
// arrays); the name-based UUID of it (uuid arrays); and the hstore map
// {placeholder: placeholder}, as an object or as JSON text.
type placeholders struct {
	str, b64, uuid, hstore string
	bytes                  []byte
}

func newPlaceholders(p string) placeholders {
	sum := md5.Sum([]byte(p))
	sum[6] = sum[6]&0x0f | 0x30 // version 3, as Java's UUID.nameUUIDFromBytes
	sum[8] = sum[8]&0x3f | 0x80
	h := hex.EncodeToString(sum[:])
	return placeholders{
		str:    p,
		b64:    base64.StdEncoding.EncodeToString([]byte(p)),
		uuid:   h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:],
		hstore: `{"` + p + `":"` + p + `"}`,
		bytes:  []byte(p),
	}
}

func (ph *placeholders) is(v *fastjson.Value) bool {
	switch v.Type() {
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		return ph.isString(string(s)) || string(s) == ph.hstore
	case fastjson.TypeArray:
		arr, _ := v.Array()
		if len(arr) == 1 && arr[0].Type() == fastjson.TypeString {
			s, _ := arr[0].StringBytes()
			return ph.isString(string(s)) || string(s) == ph.uuid
		}
		if len(arr) != len(ph.bytes) {
			return false
		}
		for i, e := range arr {
			n, err := e.Int64()
			if err != nil || n != int64(ph.bytes[i]) {
				return false
			}
		}
		return true
	case fastjson.TypeObject:
		o, _ := v.Object()
		return o.Len() == 1 && string(v.GetStringBytes(ph.str)) == ph.str
	}
	return false
}

func (ph *placeholders) isString(s string) bool { return s == ph.str || s == ph.b64 }
