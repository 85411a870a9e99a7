package config

import (
	"strings"
	"testing"
)

// TestSchemaRegistryRules: schema_registry is checked with the rest, each
// problem naming its key; credentials never go in the URL, which errors
// and logs show.
func TestSchemaRegistryRules(t *testing.T) {
	for _, tc := range []struct {
		name, key string
		r         SchemaRegistry
	}{
		{"credentials without a url", "schema_registry.url", SchemaRegistry{Username: "u", Password: "p"}},
		{"not a url", "schema_registry.url", SchemaRegistry{URL: "registry:8081"}},
		{"credentials in the url", "schema_registry.url", SchemaRegistry{URL: "http://u:p@registry:8081"}},
		{"token and password", "schema_registry.bearer_token", SchemaRegistry{URL: "http://r:8081", Username: "u", Password: "p", BearerToken: "t"}},
		{"password without user", "schema_registry.username", SchemaRegistry{URL: "http://r:8081", Password: "p"}},
		{"cert without key", "schema_registry.tls", SchemaRegistry{URL: "https://r:8081", TLS: TLS{CertFile: "c.pem"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			c.SchemaRegistry = tc.r
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("error %v, want one naming %s", err, tc.key)
			}
			if strings.Contains(err.Error(), ":p@") {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
	c := valid()
	c.SchemaRegistry = SchemaRegistry{URL: "https://registry.example.com/apis/ccompat/v7", Username: "u", Password: "p"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestSchemaRegistrySecretFiles: the registry's password and bearer token
// come from files like the other secrets, one of file or value, and a
// config file holding either literally is a file holding a secret.
func TestSchemaRegistrySecretFiles(t *testing.T) {
	pw := writeFile(t, "pw", nastyPassword+"\n", 0o600)
	tok := writeFile(t, "tok", "tok3n\n", 0o644)
	c := valid()
	c.SchemaRegistry = SchemaRegistry{URL: "http://r:8081", Username: "u", PasswordFile: pw}
	if err := c.ResolveSecrets(); err != nil || c.SchemaRegistry.Password != nastyPassword {
		t.Fatalf("password %q, err %v", c.SchemaRegistry.Password, err)
	}
	c = valid()
	c.SchemaRegistry = SchemaRegistry{URL: "http://r:8081", BearerTokenFile: tok}
	if err := c.ResolveSecrets(); err != nil || c.SchemaRegistry.BearerToken != "tok3n" {
		t.Fatalf("token %q, err %v", c.SchemaRegistry.BearerToken, err)
	}
	if w := warnings(&c); !strings.Contains(w, tok) || strings.Contains(w, "tok3n") {
		t.Fatalf("warnings %q: want the readable token file named, never the token", w)
	}
	c = valid()
	c.SchemaRegistry = SchemaRegistry{URL: "http://r:8081", BearerToken: "x", BearerTokenFile: tok}
	if err := c.ResolveSecrets(); err == nil || !strings.Contains(err.Error(), "schema_registry.bearer_token_file") {
		t.Fatalf("err %v, want the conflict named", err)
	}
	cfgFile := writeFile(t, "c.yaml", "schema_registry:\n  url: http://r:8081\n  username: u\n  password: hunter2\n", 0o644)
	loaded, err := Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if w := warnings(&loaded); !strings.Contains(w, cfgFile) || strings.Contains(w, "hunter2") {
		t.Fatalf("warnings %q: want the readable config file named, never the password", w)
	}
}
