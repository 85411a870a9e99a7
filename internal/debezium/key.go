package debezium

import (
	"errors"
	"fmt"

	"github.com/cdcsync/cdcsync/internal/change"
	"github.com/cdcsync/cdcsync/internal/fastjson"
)

// keySchema is the shape of a record key: its columns, and whether their
// types came from a Connect schema.
type keySchema struct {
	raw       string         // the key schema's JSON; "" when inferred
	schema    *change.Schema // Key holds the key columns; Columns is unused
	src       []change.Type  // typed keys: the schema's types, which read the literals
	encodings []encoding
	typed     bool
	declared  map[string]*keySchema // per table: with the table's declared types
	del       *change.Schema        // the schema of deletes: key columns only
}

// deleteSchema is the schema deletes and tombstones of this key carry.
func (ks *keySchema) deleteSchema() *change.Schema {
	if ks.del == nil {
		ks.del = change.NewSchema(nil, ks.schema.Key)
	}
	return ks.del
}

// forTable returns the key shape with the table's declared column types
// applied, so that key and row columns agree on their types.
func (ks *keySchema) forTable(tab TableOptions) *keySchema {
	if len(tab.Columns) == 0 {
		return ks
	}
	if v, ok := ks.declared[tab.Name]; ok {
		return v
	}
	v := ks
	for i, c := range ks.schema.Key {
		t, ok := tab.Columns[c.Name]
		if !ok || t.Equal(c.Type) {
			continue
		}
		if v == ks {
			cols := append([]change.Column(nil), ks.schema.Key...)
			v = &keySchema{schema: change.NewSchema(nil, cols), src: ks.src, encodings: append([]encoding(nil), ks.encodings...), typed: ks.typed}
		}
		v.schema.Key[i].Type = t
		if !ks.typed {
			// An inferred type says nothing of the encoding: the declared
			// type reads the literal.
			v.encodings[i] = tableEncoding(t, tab)
		}
	}
	if ks.declared == nil {
		ks.declared = map[string]*keySchema{}
	}
	ks.declared[tab.Name] = v
	return v
}

func (ks *keySchema) column(name string) *change.Column {
	if i := ks.index(name); i >= 0 {
		return &ks.schema.Key[i]
	}
	return nil
}

// index returns the position of the named key column, or -1.
func (ks *keySchema) index(name string) int {
	if ks == nil {
		return -1
	}
	for i := range ks.schema.Key {
		if ks.schema.Key[i].Name == name {
			return i
		}
	}
	return -1
}

type decodedKey struct {
	schema *keySchema
	values []any
	id     string
}

// errNullKey is decodeKey's answer for a null key: absent, the JSON null,
// or the legacy JsonConverter rendering {"schema":…,"payload":null}.
var errNullKey = errors.New("null record key")

// decodeKey decodes a record key: a struct of the primary-key columns, with
// or without the converter's schema wrapper.
func (d *Decoder) decodeKey(raw []byte, ts *topicState) (decodedKey, error) {
	tab := ts.tab
	if isNullJSON(raw) {
		return decodedKey{}, errNullKey
	}
	var hint string
	if ts.lastKey != nil {
		hint = ts.lastKey.raw
	}
	schemaRaw, payloadRaw, wrapped, hinted, err := splitConverterHint(raw, hint)
	// As for values (see decode): the payload parser checks the payload's
	// text, the whole key is checked when there is more to it.
	recognised := hinted
	if wrapped && !hinted {
		ks, ok := d.keys[string(schemaRaw)]
		recognised = ok && ks.typed
	}
	textChecked := err != nil || (wrapped && !recognised)
	if textChecked {
		if err := checkText(raw, "key"); err != nil {
			return decodedKey{}, err
		}
	}
	if err != nil {
		return decodedKey{}, fmt.Errorf("key is not JSON: %w", err)
	}
	if wrapped && isNullJSON(payloadRaw) {
		if err := fastjson.ValidateBytes(schemaRaw); err != nil {
			return decodedKey{}, fmt.Errorf("key schema is not JSON: %w", err)
		}
		return decodedKey{}, errNullKey
	}
	v, err := parseStrict(&d.kp, payloadRaw)
	if err != nil {
		if !textChecked {
			if err := checkText(raw, "key"); err != nil {
				return decodedKey{}, err
			}
		}
		return decodedKey{}, fmt.Errorf("key is not JSON: %w", err)
	}
	obj, err := v.Object()
	if err != nil {
		return decodedKey{}, fmt.Errorf("key is a JSON %s, not a struct of key columns", v.Type())
	}
	if obj.Len() == 0 {
		return decodedKey{}, errors.New("key has no columns")
	}
	var ks *keySchema
	if hinted {
		ks = ts.lastKey
	} else if wrapped && !isNullJSON(schemaRaw) && !isEmptyObject(schemaRaw) {
		if ks, err = d.keySchemaFor(schemaRaw); err != nil {
			return decodedKey{}, fmt.Errorf("key schema: %w", err)
		}
		ts.lastKey = ks
	} else if ks, err = d.inferKeySchema(obj); err != nil {
		return decodedKey{}, err
	}
	ks = ks.forTable(tab)
	values := make([]any, len(ks.schema.Key))
	found := 0
	var firstErr error
	obj.Visit(func(k []byte, fv *fastjson.Value) {
		if firstErr != nil {
			return
		}
		for i, c := range ks.schema.Key {
			if c.Name != string(k) {
				continue
			}
			found++
			var val any
			var err error
			if ks.typed {
				val, err = decodeAs(fv, ks.src[i], ks.encodings[i], c.Type)
			} else {
				val, err = convert(fv, c.Type, ks.encodings[i])
			}
			if err != nil {
				firstErr = fmt.Errorf("key column %q: %w", c.Name, err)
				return
			}
			values[i] = val
			return
		}
	})
	if firstErr != nil {
		return decodedKey{}, firstErr
	}
	for i, c := range ks.schema.Key {
		if values[i] == nil {
			return decodedKey{}, fmt.Errorf("key column %q is null or missing", c.Name)
		}
	}
	return decodedKey{schema: ks, values: values, id: change.KeyID(values)}, nil
}

func (d *Decoder) keySchemaFor(raw []byte) (*keySchema, error) {
	if ks, ok := d.keys[string(raw)]; ok && ks.typed {
		// Only a parsed schema: the shapes of inferred keys share the map,
		// under signatures no JSON text equals, but raw is not checked yet.
		return ks, nil
	}
	v, err := parseStrict(&d.sp, raw)
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if t := string(v.GetStringBytes("type")); t != "struct" {
		return nil, fmt.Errorf("key schema type is %q, want a struct of key columns", t)
	}
	rs, err := parseRowSchema(v, nil)
	if err != nil {
		return nil, err
	}
	if len(rs.cols) == 0 {
		return nil, errors.New("key schema has no fields")
	}
	src := make([]change.Type, len(rs.cols))
	for i, c := range rs.cols {
		src[i] = c.Type
	}
	ks := &keySchema{raw: string(raw), schema: change.NewSchema(nil, rs.cols), src: src, encodings: rs.encodings, typed: true}
	if len(d.keys) >= maxCachedSchemas {
		clear(d.keys)
	}
	d.keys[ks.raw] = ks
	return ks, nil
}

// inferKeySchema types a schemaless key from its JSON values. Key shapes
// are cached by their column names and literal types.
func (d *Decoder) inferKeySchema(obj *fastjson.Object) (*keySchema, error) {
	// The signature starts with a byte no JSON schema starts with, so it
	// never meets the raw schemas cached in the same map.
	sig := d.scratch[:0]
	sig = append(sig, 2)
	obj.Visit(func(k []byte, fv *fastjson.Value) {
		sig = appendSigString(sig, string(k))
		sig = appendSigType(sig, inferType(fv))
	})
	d.scratch = sig
	if ks, ok := d.keys[string(sig)]; ok {
		return ks, nil
	}
	var cols []change.Column
	var firstErr error
	obj.Visit(func(k []byte, fv *fastjson.Value) {
		name := string(k)
		if firstErr != nil {
			return
		}
		if name == "" {
			firstErr = errors.New("key field with an empty name")
			return
		}
		for _, c := range cols {
			if c.Name == name {
				firstErr = fmt.Errorf("key field %q appears twice", name)
				return
			}
		}
		cols = append(cols, change.Column{Name: name, Type: inferType(fv)})
	})
	if firstErr != nil {
		return nil, firstErr
	}
	ks := &keySchema{schema: change.NewSchema(nil, cols), encodings: make([]encoding, len(cols))}
	if len(d.keys) >= maxCachedSchemas {
		clear(d.keys)
	}
	d.keys[string(sig)] = ks
	return ks, nil
}
