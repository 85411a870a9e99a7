package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cdcsync/cdcsync/internal/redact"
)

// Secrets stay out of the config file in two ways:
//
//   - ${NAME} in any value is replaced by the environment variable NAME
//     (a variable that is not set is an error naming it and the key;
//     $${ writes a literal ${);
//   - a *_password_file key names a file holding the password (one line;
//     a trailing newline is dropped): kafka.sasl.password_file,
//     schema_registry.password_file and .bearer_token_file, and
//     target_password_file, whose password is put into the target DSN's
//     user information.
//
// A file that holds a secret — the config file with a literal password
// in it, or a password file — and is readable by its group or by others
// (mode & 0o044) gets a warning naming the file.

var envRef = regexp.MustCompile(`\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{[^}]*\}?`)

// expandEnv replaces ${NAME} in s; key names the value in errors.
func expandEnv(s, key string) (string, error) {
	var errs []error
	out := envRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$${" {
			return "${"
		}
		sub := envRef.FindStringSubmatch(m)
		if sub[1] == "" {
			errs = append(errs, fmt.Errorf("%s: %q is not ${NAME} (letters, digits, _; write $${ for a literal ${)", key, m))
			return m
		}
		v, ok := os.LookupEnv(sub[1])
		if !ok {
			errs = append(errs, fmt.Errorf("%s: environment variable %s is not set", key, sub[1]))
		}
		return v
	})
	return out, errors.Join(errs...)
}

// withoutEnvRefs is s with its ${NAME} references removed: what the file
// itself holds.
func withoutEnvRefs(s string) string {
	return envRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$${" {
			return "${"
		}
		return ""
	})
}

// expandNode expands the environment references of every value (not key)
// under n, and records the file's own text of each value by key.
func expandNode(n *yaml.Node, key string, raw map[string]string, errs *[]error) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for i, c := range n.Content {
			k := key
			if n.Kind == yaml.SequenceNode {
				k = fmt.Sprintf("%s[%d]", key, i)
			}
			expandNode(c, k, raw, errs)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			expandNode(n.Content[i+1], joinKey(key, n.Content[i].Value), raw, errs)
		}
	case yaml.ScalarNode:
		raw[key] = withoutEnvRefs(n.Value)
		v, err := expandEnv(n.Value, key)
		if err != nil {
			*errs = append(*errs, err)
			return
		}
		if v != n.Value {
			n.Value = v
			if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
				n.Tag = "" // a plain value: resolve the expanded text's type afresh
			}
		}
	}
}

func joinKey(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// checkKeys reports every key under n that t has no field for, with its
// line: the decoder's KnownFields does not apply to decoding a node.
func checkKeys(n *yaml.Node, t reflect.Type, key string, errs *[]error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			checkKeys(c, t, key, errs)
		}
		return
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			f, ok := fieldByTag(t, k.Value)
			if !ok {
				*errs = append(*errs, fmt.Errorf("line %d: unknown key %s", k.Line, joinKey(key, k.Value)))
				continue
			}
			checkKeys(n.Content[i+1], f.Type, joinKey(key, k.Value), errs)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkKeys(n.Content[i+1], t.Elem(), joinKey(key, n.Content[i].Value), errs)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for _, c := range n.Content {
			checkKeys(c, t.Elem(), key, errs)
		}
	}
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// holdsSecret reports whether the file's own text (environment references
// removed) of the config holds a password.
func holdsSecret(raw map[string]string) bool {
	return raw["kafka.sasl.password"] != "" || raw["schema_registry.password"] != "" ||
		raw["schema_registry.bearer_token"] != "" || len(redact.Secrets(raw["target"])) > 0
}

// readableByOthers reports whether a file's mode lets its group or others
// read it.
func readableByOthers(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().Perm()&0o044 != 0
}

// readPasswordFile reads a password file: its content, one trailing
// newline dropped.
func readPasswordFile(key, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("%s: %s: %w", key, path, err)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return "", fmt.Errorf("%s: %s is empty", key, path)
	}
	return s, nil
}

// ResolveSecrets reads the password files into the configuration: call
// it once the flags are applied, before Validate. Every problem is
// reported, each naming its key.
func (c *Config) ResolveSecrets() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if f := c.Kafka.SASL.PasswordFile; f != "" {
		const key = "kafka.sasl.password_file"
		if c.Kafka.SASL.Password != "" {
			bad(key, "kafka.sasl.password is set too; set one")
		} else if pw, err := readPasswordFile(key, f); err != nil {
			errs = append(errs, err)
		} else {
			c.Kafka.SASL.Password = pw
			c.noteSecretFile(f)
		}
	}
	for _, s := range []struct {
		key, other string
		file       string
		dst        *string
	}{
		{"schema_registry.password_file", "schema_registry.password", c.SchemaRegistry.PasswordFile, &c.SchemaRegistry.Password},
		{"schema_registry.bearer_token_file", "schema_registry.bearer_token", c.SchemaRegistry.BearerTokenFile, &c.SchemaRegistry.BearerToken},
	} {
		if s.file == "" {
			continue
		}
		if *s.dst != "" {
			bad(s.key, "%s is set too; set one", s.other)
		} else if v, err := readPasswordFile(s.key, s.file); err != nil {
			errs = append(errs, err)
		} else {
			*s.dst = v
			c.noteSecretFile(s.file)
		}
	}
	c.resolveMaskingKey(bad, &errs)
	if f := c.TargetPasswordFile; f != "" {
		const key = "target_password_file"
		if pw, err := readPasswordFile(key, f); err != nil {
			errs = append(errs, err)
		} else if dsn, err := WithPassword(c.Target, pw); err != nil {
			bad(key, "%v", err)
		} else {
			c.Target = dsn
			c.noteSecretFile(f)
		}
	}
	return errors.Join(errs...)
}

// resolveMaskingKey reads the key of columns_hash from masking.key_env
// or masking.key_file. Errors name the variable or the file, never the
// key.
func (c *Config) resolveMaskingKey(bad func(key, format string, args ...any), errs *[]error) {
	var key string
	switch m := c.Masking; {
	case m.KeyEnv != "" && m.KeyFile != "":
		return // Validate reports it
	case m.KeyEnv != "":
		v, ok := os.LookupEnv(m.KeyEnv)
		if !ok || v == "" {
			bad("masking.key_env", "environment variable %s is not set", m.KeyEnv)
			return
		}
		key = v
	case m.KeyFile != "":
		v, err := readPasswordFile("masking.key_file", m.KeyFile)
		if err != nil {
			*errs = append(*errs, err)
			return
		}
		key = v
		c.noteSecretFile(m.KeyFile)
	default:
		return
	}
	if len(key) < MinMaskingKey {
		bad("masking", "the key is %d bytes; use at least %d (e.g. openssl rand -hex 32)", len(key), MinMaskingKey)
		return
	}
	c.maskingKey = []byte(key)
}

func (c *Config) noteSecretFile(path string) {
	if readableByOthers(path) {
		c.readableSecrets = append(c.readableSecrets, path)
	}
}

// WithPassword puts a password into a postgres://, postgresql:// or
// redshift:// DSN's user information (percent-encoded), which must not
// hold one already.
func WithPassword(dsn, password string) (string, error) {
	scheme, _, ok := strings.Cut(dsn, "://")
	switch {
	case !ok || (scheme != "postgres" && scheme != "postgresql" && scheme != "redshift"):
		return "", fmt.Errorf("target %q takes no password; want a postgres:// or redshift:// URL", redact.DSN(dsn))
	}
	u, err := redact.ParseURL(dsn)
	if err != nil {
		return "", err
	}
	if _, has := u.User.Password(); has {
		return "", fmt.Errorf("target %s already holds a password; remove it from the DSN", redact.DSN(dsn))
	}
	if q := u.Query(); q.Has("password") {
		return "", fmt.Errorf("target %s already holds a password; remove it from the DSN", redact.DSN(dsn))
	}
	u.User = url.UserPassword(u.User.Username(), password)
	return u.String(), nil
}

// WarnReadableSecrets logs, once per file, that a file holding a secret
// is readable by its group or others. The secret itself is never logged.
func (c *Config) WarnReadableSecrets(log *slog.Logger) {
	for _, f := range c.readableSecrets {
		log.Warn("a file holding a secret is readable by its group or others; chmod 600 it", "file", f)
	}
	c.readableSecrets = nil
}
