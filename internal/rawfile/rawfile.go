// Package rawfile reads small files, capped, into one buffer of the right
// size.
//
// Why not io.ReadAll: it grows its buffer from 512 bytes through several
// allocation size classes, and in a process that lives a few milliseconds
// each new size class is fresh memory to fault in; reading the options and
// the alert that way cost about 0.4 ms of a 8 ms run (A/B of the built
// binary, see BENCHMARKS.md for the method). os.ReadFile sizes its buffer
// but has no cap. Plain system calls also leave the runtime's poller
// unstarted, which alone measured as noise.
package rawfile

import (
	"io/fs"
	"syscall"
)

// Read returns the contents of the file at path, but at most limit+1
// bytes, so that a caller can tell a file over its limit. Errors are
// *fs.PathError with the errno inside, as os.Open and os.ReadFile give.
func Read(path string, limit int) ([]byte, error) {
	return read(path, limit, 0)
}

// ReadNoFollow is Read for files a less trusted user could replace: a
// symbolic link is refused (ELOOP), and so is anything but a regular file
// (EINVAL), without blocking on a FIFO.
func ReadNoFollow(path string, limit int) ([]byte, error) {
	return read(path, limit, syscall.O_NOFOLLOW|syscall.O_NONBLOCK)
}

func read(path string, limit, flags int) ([]byte, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|flags, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	if flags != 0 {
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
			return nil, &fs.PathError{Op: "open", Path: path, Err: syscall.EINVAL}
		}
	}

	// Size the buffer from fstat; files that report no size (pipes,
	// /proc) grow it as they are read.
	size := 512
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) == nil && st.Size > 0 {
		size = int(min(st.Size, int64(limit))) + 1
	}
	buf := make([]byte, 0, size)
	for len(buf) <= limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		end := min(cap(buf), limit+1)
		n, err := syscall.Read(fd, buf[len(buf):end])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			break
		}
		buf = buf[:len(buf)+n]
	}
	return buf, nil
}
