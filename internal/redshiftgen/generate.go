package redshiftgen

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"

	"github.com/cdcsync/cdcsync/internal/sqltext"
	"github.com/cdcsync/cdcsync/internal/warehouse"
	rs "github.com/cdcsync/cdcsync/internal/warehouse/redshift/dialect"
)

// Options shape the generated SQL.
type Options struct {
	// Dialect is Redshift, unless a test renders for PostgreSQL.
	Dialect Dialect
	// Schema holds the generated views, tables and procedures; "public"
	// when empty.
	Schema string
	// ExternalSchema is the name of the external schema over the MSK
	// cluster; DefaultExternalSchema when empty.
	ExternalSchema string
	// Database, when set, qualifies the topics' external tables
	// ("dev"."schema"."topic").
	Database string
	// IAMRole and ClusterARN fill CREATE EXTERNAL SCHEMA; placeholders when
	// empty.
	IAMRole    string
	ClusterARN string
	// LowCardinality names, per table, the columns encoded BYTEDICT.
	LowCardinality map[string][]string
}

// DefaultExternalSchema names the external schema when Options leave it
// empty.
const DefaultExternalSchema = "cdcsync_msk"

// The placeholders written when the ARNs are not given.
const (
	PlaceholderIAMRole    = "arn:aws:iam::<account-id>:role/<redshift-streaming-role>"
	PlaceholderClusterARN = "arn:aws:kafka:<region>:<account-id>:cluster/<cluster-name>/<cluster-uuid>"
)

// The bookkeeping tables, shared by every table's procedure.
const (
	WatermarksTable = warehouse.Prefix + "watermarks"
	TruncatesTable  = warehouse.Prefix + "truncates"
)

// Output is the generated SQL: a setup script, then one script per table.
type Output struct {
	Setup  string
	Tables []TableSQL
}

// TableSQL is the SQL of one table.
type TableSQL struct {
	Name string
	SQL  string
}

// File is one file of the output directory.
type File struct {
	Name    string
	Content string
}

// SetupFile names the setup script in the output directory.
const SetupFile = "00_setup.sql"

// String returns the whole output as one script.
func (o *Output) String() string {
	var b strings.Builder
	b.WriteString(o.Setup)
	for _, t := range o.Tables {
		b.WriteString("\n")
		b.WriteString(t.SQL)
	}
	return b.String()
}

// Files returns the output as files: the setup, then <table>.sql each.
func (o *Output) Files() []File {
	files := []File{{Name: SetupFile, Content: o.Setup}}
	for _, t := range o.Tables {
		files = append(files, File{Name: t.Name + ".sql", Content: t.SQL})
	}
	return files
}

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"join":    strings.Join,
	"list":    list,
	"equal":   equal,
	"notNull": notNull,
	"after":   after,
	"comment": comment,
}).ParseFS(templateFS, "templates/*.tmpl"))

// Generate renders the SQL for the tables.
func Generate(opts Options, tables []*Table) (*Output, error) {
	g := generator{opts: opts, d: opts.Dialect}
	if g.opts.Schema == "" {
		g.opts.Schema = "public"
	}
	if g.opts.ExternalSchema == "" {
		g.opts.ExternalSchema = DefaultExternalSchema
	}
	if err := g.checkLowCardinality(tables); err != nil {
		return nil, err
	}
	out := &Output{}
	var err error
	if out.Setup, err = g.render("setup.sql.tmpl", g.setupView()); err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, t := range tables {
		name := g.d.columnName(t.Name)
		if other, dup := names[name]; dup {
			return nil, fmt.Errorf("topics %s and %s both map to table %s", other, t.Topic, name)
		}
		names[name] = t.Topic
		v, err := g.tableView(t)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", t.Name, err)
		}
		sql, err := g.render("table.sql.tmpl", v)
		if err != nil {
			return nil, err
		}
		out.Tables = append(out.Tables, TableSQL{Name: name, SQL: sql})
	}
	return out, nil
}

type generator struct {
	opts Options
	d    Dialect
}

func (g *generator) render(name string, data any) (string, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return b.String(), nil
}

// qualify names an object of the target schema.
func (g *generator) qualify(name string) string {
	return rs.Ident(g.opts.Schema) + "." + rs.Ident(name)
}

// checkLowCardinality rejects low-cardinality columns of generated tables
// that do not exist.
func (g *generator) checkLowCardinality(tables []*Table) error {
	for _, t := range tables {
		for _, col := range g.opts.LowCardinality[t.Name] {
			found := false
			for _, c := range t.Columns {
				found = found || c.Name == col
			}
			if !found {
				return fmt.Errorf("low-cardinality column %s.%s: table %s has no such column", t.Name, col, t.Name)
			}
		}
	}
	return nil
}

type setupView struct {
	ExternalSchema  string
	FillIn          string // what to replace, when ARNs were not given
	Watermarks      string
	Truncates       string
	SmallAttributes string
	PositionWidth   int
}

func (g *generator) setupView() setupView {
	role, cluster := g.opts.IAMRole, g.opts.ClusterARN
	var fillIn string
	switch {
	case role == "" && cluster == "":
		fillIn = "--iam-role and --cluster-arn were not given; replace the placeholders below."
	case role == "":
		fillIn = "--iam-role was not given; replace the placeholder below."
	case cluster == "":
		fillIn = "--cluster-arn was not given; replace the placeholder below."
	}
	if role == "" {
		role = PlaceholderIAMRole
	}
	if cluster == "" {
		cluster = PlaceholderClusterARN
	}
	if g.d == PostgreSQL {
		fillIn = ""
	}
	return setupView{
		ExternalSchema:  g.d.externalSchema(rs.Ident(g.opts.ExternalSchema), role, cluster),
		FillIn:          fillIn,
		Watermarks:      g.qualify(WatermarksTable),
		Truncates:       g.qualify(TruncatesTable),
		SmallAttributes: g.d.smallTableAttributes(),
		PositionWidth:   positionWidth,
	}
}

type namedExpr struct {
	Name string
	Expr string
}

type tableView struct {
	Name, Topic, Connector, Source, Schemas string
	Warnings                                []string
	KeyNames                                []string

	CaseSensitiveSession string
	MaterializedView     string
	StagingColumns       string
	TargetColumns        string
	TableAttributes      string

	MV, Staging, Target, TargetRef string
	Procedure, ProcedureName       string
	ProcedureOptions               string
	Watermarks, Truncates          string
	Literal, Now                   string
	Cols, Keys                     []string
	Extract                        []namedExpr
	RawOp, Position, SourceTs      string
	PositionWidth                  int
}

func (g *generator) tableView(t *Table) (*tableView, error) {
	d := g.d
	name := d.columnName(t.Name)
	keys := t.KeyColumns()
	if len(keys) == 0 {
		return nil, fmt.Errorf("no primary key: the record key of topic %s names no column", t.Topic)
	}
	v := &tableView{
		Name:          t.Name,
		Topic:         t.Topic,
		Connector:     connectorName(t.Connector),
		Source:        t.Source.String(),
		Schemas:       schemasNote(t),
		Warnings:      t.Warnings,
		KeyNames:      t.Key,
		MV:            g.qualify("mv_" + name),
		Staging:       g.qualify(name + "_stg"),
		Target:        g.qualify(name),
		TargetRef:     rs.Ident(name),
		Procedure:     g.qualify("incremental_sync_" + name),
		ProcedureName: raiseText("incremental_sync_" + name),
		Watermarks:    g.qualify(WatermarksTable),
		Truncates:     g.qualify(TruncatesTable),
		Literal:       sqltext.Literal(t.Name),
		Now:           d.now(),
		RawOp:         d.opExpr(t),
		Position:      d.positionExpr(t),
		SourceTs:      d.sourceTsExpr(t),
		PositionWidth: positionWidth,
	}
	v.MaterializedView = d.materializedView(v.MV, g.topicTable(t.Topic))
	if t.Topic != strings.ToLower(t.Topic) {
		v.CaseSensitiveSession = d.caseSensitiveSession()
	}
	seen := map[string]string{}
	caseSensitive := false
	for _, c := range t.Columns {
		col := d.columnName(c.Name)
		if other, dup := seen[col]; dup {
			return nil, fmt.Errorf("columns %s and %s are both %s in Redshift, which folds names to lower case", other, c.Name, col)
		}
		seen[col] = c.Name
		caseSensitive = caseSensitive || c.Name != strings.ToLower(c.Name)
		v.Cols = append(v.Cols, rs.Ident(col))
		v.Extract = append(v.Extract, namedExpr{Name: rs.Ident(col), Expr: d.columnExpr(t, c)})
	}
	for _, k := range keys {
		v.Keys = append(v.Keys, rs.Ident(d.columnName(k.Name)))
	}
	v.ProcedureOptions = d.procedureOptions(caseSensitive)
	v.TableAttributes = d.tableAttributes(v.Keys)
	var err error
	if v.StagingColumns, err = g.columnDefs(t, true); err != nil {
		return nil, err
	}
	if v.TargetColumns, err = g.columnDefs(t, false); err != nil {
		return nil, err
	}
	return v, nil
}

// raiseText escapes text for a RAISE format string literal.
func raiseText(s string) string {
	return strings.NewReplacer("'", "''", "%", "%%").Replace(s)
}

// topicTable names a topic's external table.
func (g *generator) topicTable(topic string) string {
	name := rs.Ident(g.opts.ExternalSchema) + "." + rs.Ident(topic)
	if g.opts.Database != "" {
		name = rs.Ident(g.opts.Database) + "." + name
	}
	return name
}

// metaColumn is one of cdcsync's own columns.
type metaColumn struct {
	name, typ, enc  string
	staging, target bool
}

var metaColumns = []metaColumn{
	{warehouse.ColOp, "CHAR(1)", "bytedict", true, true},                                   // last op: c, u, r (staging: d, t too)
	{warehouse.ColPosition, fmt.Sprintf("VARCHAR(%d)", positionWidth), "zstd", true, true}, // source position, sortable text
	{warehouse.ColPartition, "INTEGER", "az64", true, true},
	{warehouse.ColOffset, "BIGINT", "az64", true, true},
	{warehouse.ColSourceTs, "TIMESTAMP", "az64", true, true},   // source commit time (source.ts_ms)
	{warehouse.Prefix + "rank", "BIGINT", "az64", true, false}, // 1: the key's last change
	{warehouse.ColRefreshedAt, "TIMESTAMP", "az64", false, true},
}

// columnDefs renders the column definitions of the staging or the target
// table. Key columns are NOT NULL in the target only: staging holds
// truncates and skipped records, which have no key.
func (g *generator) columnDefs(t *Table, staging bool) (string, error) {
	d := g.d
	low := map[string]bool{}
	for _, c := range g.opts.LowCardinality[t.Name] {
		low[c] = true
	}
	var lines []string
	for _, c := range t.Columns {
		enc, err := compression(c, low[c.Name], c.Key)
		if err != nil {
			return "", err
		}
		null := ""
		if c.Key && !staging {
			null = " NOT NULL"
		}
		lines = append(lines, "    "+rs.Ident(d.columnName(c.Name))+" "+d.columnType(c)+null+d.encode(enc))
	}
	for _, m := range metaColumns {
		if (staging && m.staging) || (!staging && m.target) {
			null := ""
			if !staging && (m.name == warehouse.ColOp || m.name == warehouse.ColPartition || m.name == warehouse.ColOffset || m.name == warehouse.ColRefreshedAt) {
				null = " NOT NULL"
			}
			lines = append(lines, "    "+m.name+" "+m.typ+null+d.encode(m.enc))
		}
	}
	return strings.Join(lines, ",\n"), nil
}

func connectorName(c string) string {
	if c == "" {
		return "unknown connector"
	}
	return "connector " + c
}

func schemasNote(t *Table) string {
	switch {
	case t.ValueSchemas && t.KeySchemas:
		return "values and keys carry schemas (payload.payload.after)"
	case t.ValueSchemas:
		return "values carry schemas (payload.payload.after), keys do not"
	case t.KeySchemas:
		return "values carry no schemas (payload.after), keys do"
	}
	return "no schemas (payload.after), column types declared or inferred"
}

// list renders names each with a prefix: "s.a, s.b".
func list(prefix string, names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return strings.Join(out, ", ")
}

// equal renders the join of two relations on names.
func equal(left, right string, names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = left + "." + n + " = " + right + "." + n
	}
	return strings.Join(out, " AND ")
}

// notNull renders that every named column is set.
func notNull(prefix string, names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n + " IS NOT NULL"
	}
	return strings.Join(out, " AND ")
}

// after renders that the event or row (column prefix) comes after the
// truncate held in the procedure's v_<which>_position, _partition and
// _offset: later by source position, or later in the truncate's own
// partition. An unknown position is never later by position.
func after(prefix, which string) string {
	v := "v_" + which + "_"
	return "(COALESCE(" + prefix + warehouse.ColPosition + " > " + v + "position, FALSE)" +
		" OR (" + prefix + warehouse.ColPartition + " = " + v + "partition AND " + prefix + warehouse.ColOffset + " > " + v + "offset))"
}

// comment renders text as SQL comment lines of at most 80 columns, the
// first starting with lead, the others indented under it.
func comment(lead, text string) string {
	indent := "--" + strings.Repeat(" ", len(lead)-2)
	var lines []string
	line := lead
	for _, w := range strings.Fields(text) {
		if len(line)+1+len(w) > 80 && line != lead && line != indent {
			lines = append(lines, line)
			line = indent
		}
		if line != lead && line != indent {
			line += " "
		}
		line += w
	}
	return strings.Join(append(lines, line), "\n")
}
