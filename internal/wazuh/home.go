package wazuh

import (
	"os"
	"path/filepath"
)

// DefaultHome is where Wazuh is installed unless the binary says otherwise.
const DefaultHome = "/var/ossec"

// Home returns the Wazuh installation the running binary belongs to: the
// directory above the one holding the executable (/var/ossec/integrations/
// custom-misp → /var/ossec), as Wazuh's own integrations derive it.
func Home() string {
	exe, err := os.Executable()
	if err != nil {
		return DefaultHome
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	return filepath.Dir(filepath.Dir(exe))
}
