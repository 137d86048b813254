package config

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeListsEverySetting keeps the README in step with the
// settings table: every key, environment variable and flag is documented.
func TestReadmeListsEverySetting(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	mention := func(s string) {
		if !strings.Contains(readme, "`"+s+"`") {
			t.Errorf("README.md does not mention `%s`", s)
		}
	}
	mention("CONFIG_FILE")
	mention("--" + configFlag)
	mention("instance_admin") // optional key of [auth.static_api_key] keys
	for _, s := range settings {
		// "log.level" is written as [log] level, as in the file.
		if i := strings.LastIndex(s.key, "."); i >= 0 {
			mention("[" + s.key[:i] + "] " + s.key[i+1:])
		} else {
			mention(s.key)
		}
		if s.env != "" {
			mention(s.env)
		}
		if s.flag != "" {
			mention("--" + s.flag)
		}
	}
}
