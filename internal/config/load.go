package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Load reads path, detects its format (Detect), parses and validates it.
// On error the returned error is an Errors value listing every problem with
// FILE:LINE; warnings are returned in both cases.
func Load(path string) (*Config, []Warning, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, Errors{{Pos: Pos{File: path}, Msg: fmt.Sprintf("cannot read: %v", err)}}
	}
	if Detect(path, data) == FormatKeepalived {
		return ParseKeepalived(path, data)
	}
	return ParseYAML(path, data)
}

// keepalivedTop are words a keepalived.conf starts with; a YAML file cannot
// start with them (a YAML key would be followed by ':').
var keepalivedTop = set("global_defs", "vrrp_script", "vrrp_instance", "vrrp_sync_group",
	"include", "static_ipaddress", "static_routes", "virtual_server", "vrrp_track_process")

// Detect picks the format: .yaml/.yml is YAML, .conf is keepalived;
// otherwise the first word that is not a comment decides.
func Detect(path string, data []byte) Format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		return FormatYAML
	case ".conf":
		return FormatKeepalived
	}
	for _, raw := range bytes.Split(data, []byte("\n")) {
		line := strings.TrimSpace(string(raw))
		if line == "" || line[0] == '#' || line == "---" {
			continue
		}
		if line[0] == '!' {
			return FormatKeepalived // keepalived comment; YAML tags are !word
		}
		word, _, _ := strings.Cut(strings.Fields(line)[0], "{")
		if keepalivedTop[word] {
			return FormatKeepalived
		}
		return FormatYAML
	}
	return FormatYAML
}
