// Package listing streams directory listings (LIST, NLST, MLSD) onto
// their data connection a page at a time, so that a listing's memory does
// not depend on the directory's size.
//
// # Why
//
// ftpserverlib (v0.32.3, handle_dirs.go) answers LIST, NLST and MLSD by
// building the whole []os.FileInfo (getFileList: the driver's
// ClientDriverExtensionFileList.ReadDir, or Open + Readdir(-1)) before it
// writes the first byte: a directory of 100 000 entries held about
// 100 000 FileInfo values (tens of MiB) in the server for the length of
// the transfer, whatever the storage could do page by page (S3's
// ListObjectsV2 gives 1000 keys a page).
//
// # How, without copying the library
//
// The library keeps the protocol: 150, the asynchronous transfer
// goroutine, ABOR, 226 or the failure reply. ftpd supplies the bytes,
// through two of the library's own seams:
//
//  1. ReadDir. ftpd's client driver implements
//     ClientDriverExtensionFileList. For a directory being listed it opens
//     the directory (driver.FS.OpenDir: the client's view, with partial
//     uploads hidden and, on S3, ftpd's reserved .ftpd/ left out), reads
//     its first page (Prefetch), records it in the session as the pending
//     Listing, and returns an empty slice. An error opening it or reading
//     that page is returned, and the library answers it ("Could not list")
//     before any data connection is used, as before.
//  2. The data connection. ftpd's data plane makes every data connection
//     (server/dataplane); for a listing command it hands the library a
//     Conn from this package instead of the bare connection. Given an
//     empty slice, the library writes an empty listing:
//     writer.Write([]byte("")) in dirTransferLIST/NLST/MLSD. That
//     zero-length Write on the Conn is the hook: it streams the pending
//     listing onto the real connection (TCP, or ftpd's TLS for PROT P)
//     and returns its error, so a storage failure halfway gives the
//     library's failure reply (which the session turns into 451), never
//     226.
//
// Each page (Page entries, 1000 by default) is rendered line by line into
// one bufio.Writer of BufferSize bytes: the server holds one page and one
// buffer per listing. The lines are those the library writes: LIST as its
// fileStat (mode, "1 ftp ftp", size in 12 columns, "Jan _2 15:04", or
// "Jan _2  2006" for entries more than 6 months (180 days) older than the
// session's start), NLST as the name joined to the listed directory's path
// relative to the working directory, MLSD as
// "Type=...;Size=...;Modify=...; name". Entries are sorted by name within
// each page; a directory of more than one page is listed in the storage's
// order between pages (S3: key order; a disk: directory order), since
// sorting it whole would need it whole.
//
// server/listing_test.go is the guard: it compares, byte for byte, ftpd's
// streamed LIST, NLST and MLSD with the library's own rendering (the
// session's test switch that returns the whole slice instead), clear and
// under PROT P; if a library upgrade stops calling ReadDir, stops writing
// the empty listing through the connection it was given, or changes its
// format, that test fails.
//
// # What stays with the library
//
//   - A listing of a file path (LIST file) is a single entry: ReadDir is
//     not called, the library writes it, the Conn passes it through.
//   - STAT of a directory lists on the control connection, where the
//     library has no such seam: ftpd bounds it instead (server/listings.go).
//
// # Fail-closed bookkeeping
//
// The pending Listing lives from ReadDir to the data connection's
// handover, which takes it. It is also dropped (and its directory closed)
// by the next ReadDir, by any final reply the library writes before the
// handover (the listing command failed: no data port, TLS required, ABOR),
// and by the session's end. The control screen is not used to clear it:
// the screen sees commands as they arrive, ahead of the library, so a
// pipelined command could drop a listing that is still to be sent.
// Which command is listing is the library's last command at ReadDir time
// (LIST, NLST, MLSD, or STAT; only ABOR, QUIT and STAT, which the library
// runs beside a transfer, can replace it meanwhile: a listing that sees
// ABOR or QUIT is refused, and one that sees STAT gets STAT's bounded
// read, rendered by the library).
package listing
