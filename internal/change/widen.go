package change

// Widen returns the narrowest type that holds every value of both a and b,
// and false when there is none a warehouse column can be widened to without
// changing what its values mean (e.g. string and int). The widenings are:
// integers to larger integers, to double and to decimals; float to double;
// decimals to more integer or fraction digits; temporal units to finer
// units; lists element-wise.
func Widen(a, b Type) (Type, bool) {
	if a.Equal(b) {
		return a, true
	}
	switch {
	case isInt(a.Kind) && isInt(b.Kind):
		return Type{Kind: max(a.Kind, b.Kind)}, true
	case isNumeric(a.Kind) && isNumeric(b.Kind) && (isFloat(a.Kind) || isFloat(b.Kind)):
		if a.Kind == KindDecimal || b.Kind == KindDecimal {
			return Type{}, false // exact and inexact do not mix
		}
		// Exact for int16 and int32. An int64 column becomes DOUBLE when a
		// fraction appears (schemaless numbers): no exact type holds both
		// every double and every int64, and refusing would dead-letter
		// every fractional value. Integers beyond ±2^53 are then refused at
		// bind time rather than rounded; ones already stored round.
		return Float64, true
	case isNumeric(a.Kind) && isNumeric(b.Kind):
		return widenDecimal(asDecimal(a), asDecimal(b)), true
	case a.Kind == b.Kind && (a.Kind == KindTimestamp || a.Kind == KindTime):
		return Type{Kind: a.Kind, Unit: finer(a.Unit, b.Unit)}, true
	case a.Kind == KindList && b.Kind == KindList && a.Elem != nil && b.Elem != nil:
		e, ok := Widen(*a.Elem, *b.Elem)
		if !ok {
			return Type{}, false
		}
		return ListType(e), true
	}
	return Type{}, false
}

func isInt(k Kind) bool     { return k == KindInt16 || k == KindInt32 || k == KindInt64 }
func isFloat(k Kind) bool   { return k == KindFloat32 || k == KindFloat64 }
func isNumeric(k Kind) bool { return isInt(k) || isFloat(k) || k == KindDecimal }

// asDecimal returns the decimal type that holds every value of an integer
// or decimal type.
func asDecimal(t Type) Type {
	switch t.Kind {
	case KindInt16:
		return DecimalType(5, 0)
	case KindInt32:
		return DecimalType(10, 0)
	case KindInt64:
		return DecimalType(19, 0)
	}
	return t
}

func widenDecimal(a, b Type) Type {
	if a.Precision == 0 || b.Precision == 0 {
		return DecimalType(0, 0) // variable scale holds anything
	}
	scale := max(a.Scale, b.Scale)
	whole := max(a.Precision-a.Scale, b.Precision-b.Scale)
	return DecimalType(whole+scale, scale)
}

// finer returns the more precise of two units (ms < µs < ns).
func finer(a, b Unit) Unit {
	rank := func(u Unit) int {
		switch u {
		case UnitMillis:
			return 0
		case UnitMicros:
			return 1
		}
		return 2
	}
	if rank(a) >= rank(b) {
		return a
	}
	return b
}
