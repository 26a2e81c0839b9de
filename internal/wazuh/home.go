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
//
// The path comes from os.Executable, which on Linux is the kernel's
// /proc/self/exe, already free of symbolic links; resolving it again
// would cost every run a system call per path element.
func Home() string {
	exe, err := os.Executable()
	if err != nil {
		return DefaultHome
	}
	return filepath.Dir(filepath.Dir(exe))
}
