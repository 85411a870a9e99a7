package debezium

import (
	"errors"
	"fmt"

	"github.com/valyala/fastjson"

	"github.com/cdcsync/cdcsync/internal/change"
)

// keySchema is the shape of a record key: its columns, and whether their
// types came from a Connect schema.
type keySchema struct {
	schema    *change.Schema // Key holds the key columns; Columns is unused
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
			v = &keySchema{schema: change.NewSchema(nil, cols), encodings: append([]encoding(nil), ks.encodings...), typed: ks.typed}
		}
		v.schema.Key[i].Type = t
		v.encodings[i] = declaredEncoding(t)
	}
	if ks.declared == nil {
		ks.declared = map[string]*keySchema{}
	}
	ks.declared[tab.Name] = v
	return v
}

func (ks *keySchema) column(name string) *change.Column {
	if ks == nil {
		return nil
	}
	for i := range ks.schema.Key {
		if ks.schema.Key[i].Name == name {
			return &ks.schema.Key[i]
		}
	}
	return nil
}

type decodedKey struct {
	schema *keySchema
	values []any
	id     string
}

// decodeKey decodes a record key: a struct of the primary-key columns, with
// or without the converter's schema wrapper.
func (d *Decoder) decodeKey(raw []byte, tab TableOptions) (decodedKey, error) {
	schemaRaw, payloadRaw, wrapped, err := splitConverter(raw)
	if err != nil {
		return decodedKey{}, fmt.Errorf("key is not JSON: %w", err)
	}
	if isNullJSON(payloadRaw) {
		return decodedKey{}, errors.New("record key has a null payload")
	}
	v, err := d.kp.ParseBytes(payloadRaw)
	if err != nil {
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
	if wrapped && !isNullJSON(schemaRaw) && !isEmptyObject(schemaRaw) {
		if ks, err = d.keySchemaFor(schemaRaw); err != nil {
			return decodedKey{}, fmt.Errorf("key schema: %w", err)
		}
	} else {
		ks = d.inferKeySchema(obj)
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
			val, err := convert(fv, c.Type, ks.encodings[i])
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
	if ks, ok := d.keys[string(raw)]; ok {
		return ks, nil
	}
	v, err := d.sp.ParseBytes(raw)
	if err != nil {
		return nil, err
	}
	if t := string(v.GetStringBytes("type")); t != "struct" {
		return nil, fmt.Errorf("key schema type is %q, want a struct of key columns", t)
	}
	rs, err := parseRowSchema(v)
	if err != nil {
		return nil, err
	}
	if len(rs.cols) == 0 {
		return nil, errors.New("key schema has no fields")
	}
	ks := &keySchema{schema: change.NewSchema(nil, rs.cols), encodings: rs.encodings, typed: true}
	if len(d.keys) >= maxCachedSchemas {
		clear(d.keys)
	}
	d.keys[string(raw)] = ks
	return ks, nil
}

// inferKeySchema types a schemaless key from its JSON values. Key shapes
// are cached by their column names and literal types.
func (d *Decoder) inferKeySchema(obj *fastjson.Object) *keySchema {
	sig := d.scratch[:0]
	sig = append(sig, 2)
	obj.Visit(func(k []byte, fv *fastjson.Value) {
		sig = append(sig, k...)
		sig = append(sig, 0, byte(inferType(fv).Kind))
	})
	d.scratch = sig
	if ks, ok := d.keys[string(sig)]; ok {
		return ks
	}
	var cols []change.Column
	obj.Visit(func(k []byte, fv *fastjson.Value) {
		cols = append(cols, change.Column{Name: string(k), Type: inferType(fv)})
	})
	ks := &keySchema{schema: change.NewSchema(nil, cols), encodings: make([]encoding, len(cols))}
	if len(d.keys) >= maxCachedSchemas {
		clear(d.keys)
	}
	d.keys[string(sig)] = ks
	return ks
}
