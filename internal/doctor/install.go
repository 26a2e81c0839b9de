package doctor

import "github.com/custom-misp/custom-misp/internal/layout"

// InstallMode is the owner, group and permission bits one file or
// directory under the Wazuh home gets: an entry of internal/layout, the
// table install.sh, make install and the packages follow.
type InstallMode = layout.Entry

// InstallModes lists everything install.sh creates; doctor judges
// installed files against it and a test holds rules/README.md, the
// decoder's header and README.md to it. Owner and group "wazuh" stand for
// the user the Wazuh daemons run as.
func InstallModes() []InstallMode { return layout.Entries() }

// installModeOf returns the InstallModes entry for rel. Every caller
// passes a path of the table, so a miss is a programming error.
func installModeOf(rel string) InstallMode { return layout.Of(rel) }
