package main

// Readers for what make dist writes, independent of nfpm: ar + tar for a
// .deb, the rpm header and its cpio payload for an .rpm (the formats of
// deb(5) and the RPM file format spec; nfpm 2.48 has no rpm reader).

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
)

// pkgFile is one entry of a package's payload.
type pkgFile struct {
	path         string // absolute, as installed
	dir          bool
	owner, group string
	perm         fs.FileMode
	config       bool // deb conffile, rpm %config
	noreplace    bool // rpm %config(noreplace)
	data         []byte
}

// debPackage is what a .deb holds.
type debPackage struct {
	control   map[string][]byte // control.tar.gz members: control, md5sums, conffiles, preinst...
	files     map[string]pkgFile
	debBinary string
}

// readAr splits an ar archive into its members.
func readAr(b []byte) (map[string][]byte, []string, error) {
	if !bytes.HasPrefix(b, []byte("!<arch>\n")) {
		return nil, nil, fmt.Errorf("not an ar archive")
	}
	members := map[string][]byte{}
	var order []string
	for off := 8; off < len(b); {
		if off+60 > len(b) {
			return nil, nil, fmt.Errorf("truncated ar header at %d", off)
		}
		h := b[off : off+60]
		if string(h[58:60]) != "`\n" {
			return nil, nil, fmt.Errorf("bad ar header magic at %d", off)
		}
		name := strings.TrimSuffix(strings.TrimSpace(string(h[0:16])), "/")
		size, err := strconv.Atoi(strings.TrimSpace(string(h[48:58])))
		if err != nil || off+60+size > len(b) {
			return nil, nil, fmt.Errorf("bad ar member size at %d", off)
		}
		members[name] = b[off+60 : off+60+size]
		order = append(order, name)
		off += 60 + size + size%2
	}
	return members, order, nil
}

func readTarGz(b []byte, each func(h *tar.Header, data []byte) error) error {
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if err := each(h, data); err != nil {
			return err
		}
	}
}

func readDeb(b []byte) (*debPackage, error) {
	members, order, err := readAr(b)
	if err != nil {
		return nil, err
	}
	if strings.Join(order, ",") != "debian-binary,control.tar.gz,data.tar.gz" {
		return nil, fmt.Errorf("members %v, want debian-binary, control.tar.gz, data.tar.gz", order)
	}
	p := &debPackage{control: map[string][]byte{}, files: map[string]pkgFile{}, debBinary: string(members["debian-binary"])}
	err = readTarGz(members["control.tar.gz"], func(h *tar.Header, data []byte) error {
		if h.Typeflag == tar.TypeReg {
			p.control[strings.TrimPrefix(h.Name, "./")] = data
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("control.tar.gz: %v", err)
	}
	conf := map[string]bool{}
	for _, l := range strings.Split(string(p.control["conffiles"]), "\n") {
		if l != "" {
			conf[l] = true
		}
	}
	err = readTarGz(members["data.tar.gz"], func(h *tar.Header, data []byte) error {
		path := strings.TrimSuffix(strings.TrimPrefix(h.Name, "."), "/")
		if path == "" {
			return nil
		}
		p.files[path] = pkgFile{path: path, dir: h.Typeflag == tar.TypeDir, owner: h.Uname, group: h.Gname,
			perm: fs.FileMode(h.Mode) & fs.ModePerm, config: conf[path], data: data}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("data.tar.gz: %v", err)
	}
	return p, nil
}

// RPM header tags and types used here (rpmtag.h).
const (
	tagPreIn       = 1023
	tagPostIn      = 1024
	tagPostUn      = 1026
	tagFileModes   = 1030
	tagFileFlags   = 1037
	tagFileUser    = 1039
	tagFileGroup   = 1040
	tagRequireName = 1049
	tagDirIndexes  = 1116
	tagBaseNames   = 1117
	tagDirNames    = 1118
	tagCompressor  = 1125

	typeInt16       = 3
	typeInt32       = 4
	typeString      = 6
	typeStringArray = 8
	typeI18NString  = 9

	rpmFileConfig    = 1 << 0
	rpmFileNoReplace = 1 << 4
)

type rpmHeader map[int32]any // []string, []uint16, []uint32 or string

// readRPMHeader parses one header structure at b and returns it and its
// length.
func readRPMHeader(b []byte) (rpmHeader, int, error) {
	if len(b) < 16 || !bytes.Equal(b[:4], []byte{0x8e, 0xad, 0xe8, 0x01}) {
		return nil, 0, fmt.Errorf("no rpm header magic")
	}
	il := int(binary.BigEndian.Uint32(b[8:12]))
	dl := int(binary.BigEndian.Uint32(b[12:16]))
	n := 16 + 16*il + dl
	if il > 10000 || n > len(b) {
		return nil, 0, fmt.Errorf("rpm header of %d entries, %d bytes: truncated", il, dl)
	}
	store := b[16+16*il : n]
	h := rpmHeader{}
	for i := 0; i < il; i++ {
		e := b[16+16*i:]
		tag := int32(binary.BigEndian.Uint32(e[0:4]))
		typ := binary.BigEndian.Uint32(e[4:8])
		off := int(binary.BigEndian.Uint32(e[8:12]))
		count := int(binary.BigEndian.Uint32(e[12:16]))
		if off > len(store) {
			return nil, 0, fmt.Errorf("tag %d: offset out of range", tag)
		}
		d := store[off:]
		switch typ {
		case typeString, typeStringArray, typeI18NString:
			var ss []string
			for j := 0; j < count; j++ {
				k := bytes.IndexByte(d, 0)
				if k < 0 {
					return nil, 0, fmt.Errorf("tag %d: unterminated string", tag)
				}
				ss = append(ss, string(d[:k]))
				d = d[k+1:]
			}
			if typ == typeString {
				h[tag] = ss[0]
			} else {
				h[tag] = ss
			}
		case typeInt16:
			if 2*count > len(d) {
				return nil, 0, fmt.Errorf("tag %d: truncated", tag)
			}
			v := make([]uint16, count)
			for j := range v {
				v[j] = binary.BigEndian.Uint16(d[2*j:])
			}
			h[tag] = v
		case typeInt32:
			if 4*count > len(d) {
				return nil, 0, fmt.Errorf("tag %d: truncated", tag)
			}
			v := make([]uint32, count)
			for j := range v {
				v[j] = binary.BigEndian.Uint32(d[4*j:])
			}
			h[tag] = v
		}
	}
	return h, n, nil
}

// rpmPackage is what an .rpm holds: its header, and the files from the
// header's file lists joined with the cpio payload's contents.
type rpmPackage struct {
	header  rpmHeader
	files   map[string]pkgFile
	payload map[string]fs.FileMode // cpio entries: path -> mode (with type bits)
}

func readRPM(b []byte) (*rpmPackage, error) {
	if len(b) < 96 || !bytes.Equal(b[:4], []byte{0xed, 0xab, 0xee, 0xdb}) {
		return nil, fmt.Errorf("no rpm lead")
	}
	off := 96
	_, n, err := readRPMHeader(b[off:]) // the signature header
	if err != nil {
		return nil, fmt.Errorf("signature: %v", err)
	}
	off += n
	off += (8 - off%8) % 8
	h, n, err := readRPMHeader(b[off:])
	if err != nil {
		return nil, fmt.Errorf("header: %v", err)
	}
	off += n
	p := &rpmPackage{header: h, files: map[string]pkgFile{}, payload: map[string]fs.FileMode{}}
	base, _ := h[tagBaseNames].([]string)
	dirs, _ := h[tagDirNames].([]string)
	idx, _ := h[tagDirIndexes].([]uint32)
	modes, _ := h[tagFileModes].([]uint16)
	flags, _ := h[tagFileFlags].([]uint32)
	users, _ := h[tagFileUser].([]string)
	groups, _ := h[tagFileGroup].([]string)
	for _, l := range [][]int{{len(idx), len(modes), len(flags), len(users), len(groups)}} {
		for _, x := range l {
			if x != len(base) {
				return nil, fmt.Errorf("file lists of different lengths: %v, %d names", l, len(base))
			}
		}
	}
	for i, name := range base {
		if int(idx[i]) >= len(dirs) {
			return nil, fmt.Errorf("dir index out of range")
		}
		path := dirs[idx[i]] + name
		m := fs.FileMode(modes[i])
		p.files[path] = pkgFile{path: path, dir: modes[i]&0o170000 == 0o040000, owner: users[i], group: groups[i],
			perm: m & fs.ModePerm, config: flags[i]&rpmFileConfig != 0, noreplace: flags[i]&rpmFileNoReplace != 0}
	}
	if c, _ := h[tagCompressor].(string); c != "gzip" {
		return nil, fmt.Errorf("payload compressor %q, the test reads gzip", c)
	}
	gz, err := gzip.NewReader(bytes.NewReader(b[off:]))
	if err != nil {
		return nil, fmt.Errorf("payload: %v", err)
	}
	cpio, err := io.ReadAll(gz)
	if err != nil {
		return nil, fmt.Errorf("payload: %v", err)
	}
	// cpio "newc": 110-byte ASCII header, name, data, each padded to 4.
	for o := 0; ; {
		if o+110 > len(cpio) || string(cpio[o:o+6]) != "070701" {
			return nil, fmt.Errorf("cpio header at %d", o)
		}
		field := func(i int) int {
			v, _ := strconv.ParseUint(string(cpio[o+6+8*i:o+14+8*i]), 16, 32)
			return int(v)
		}
		mode, size, nameSize := field(1), field(6), field(11)
		nameEnd := o + 110 + nameSize
		if nameEnd > len(cpio) {
			return nil, fmt.Errorf("cpio name at %d", o)
		}
		name := strings.TrimRight(string(cpio[o+110:nameEnd]), "\x00")
		dataStart := nameEnd + (4-nameEnd%4)%4
		if name == "TRAILER!!!" {
			break
		}
		if dataStart+size > len(cpio) {
			return nil, fmt.Errorf("cpio data of %s", name)
		}
		path := strings.TrimPrefix(name, ".")
		p.payload[path] = fs.FileMode(mode)
		if f, ok := p.files[path]; ok {
			f.data = cpio[dataStart : dataStart+size]
			p.files[path] = f
		}
		o = dataStart + size
		o += (4 - o%4) % 4
	}
	return p, nil
}
