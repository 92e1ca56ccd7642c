package s3store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3's copy limits: CopyObject takes a source of at most 5 GiB; bigger
// needs a multipart upload whose parts are UploadPartCopy ranges of the
// source (at most 10 000 parts of 5 MiB to 5 GiB).
const (
	maxSingleCopy = 5 << 30
	maxParts      = 10000
	copyPartSize  = 512 << 20 // large parts: few requests for a big object
)

// copyObject copies the object at src (size bytes) to dst, both keys of
// the bucket. etag (if not nil) pins the source: the copy fails if the
// object at src is no longer that one. With meta non-nil the copy gets that metadata instead of
// the source's. Up to copyLimit it is one CopyObject; beyond, a multipart
// copy that is aborted on any failure, so dst is either the whole copy or
// as it was.
func (s *Store) copyObject(ctx context.Context, src, dst string, size int64, etag *string, meta map[string]string) error {
	source := aws.String(copySource(s.bucket, src))
	if size <= s.copyLimit {
		in := &s3.CopyObjectInput{Bucket: &s.bucket, Key: &dst, CopySource: source, CopySourceIfMatch: etag}
		if meta != nil {
			in.Metadata, in.MetadataDirective = meta, types.MetadataDirectiveReplace
		}
		cctx, cancel := context.WithTimeout(ctx, s.copyTimeout)
		defer cancel()
		_, err := s.c.CopyObject(cctx, in)
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, s.reqTimeout)
	head, err := s.c.HeadObject(rctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &src})
	cancel()
	if err != nil {
		return err
	}
	if aws.ToInt64(head.ContentLength) != size || head.ETag == nil || etag != nil && *etag != *head.ETag {
		return fmt.Errorf("copy %s: the object changed during the copy", src)
	}
	if meta == nil {
		meta = head.Metadata
	}
	part := max(s.copyPart, (size+maxParts-1)/maxParts)
	rctx, cancel = context.WithTimeout(ctx, s.reqTimeout)
	up, err := s.c.CreateMultipartUpload(rctx, &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: &dst, Metadata: withInstance(meta, s.instance)})
	cancel()
	if err != nil {
		return err
	}
	var parts []types.CompletedPart
	for off, num := int64(0), int32(1); off < size; off, num = off+part, num+1 {
		end := min(off+part, size) - 1
		pctx, cancel := context.WithTimeout(ctx, s.copyTimeout)
		out, err := s.c.UploadPartCopy(pctx, &s3.UploadPartCopyInput{
			Bucket: &s.bucket, Key: &dst, UploadId: up.UploadId, PartNumber: aws.Int32(num),
			CopySource: source, CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, end)),
			// The source must stay the object measured above.
			CopySourceIfMatch: head.ETag,
		})
		cancel()
		if err != nil {
			s.abortCopy(ctx, dst, up.UploadId)
			return err
		}
		parts = append(parts, types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(num)})
	}
	// Completing assembles the parts: a copy's time.
	cctx, cancel := context.WithTimeout(ctx, s.copyTimeout)
	defer cancel()
	_, err = s.c.CompleteMultipartUpload(cctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: &dst, UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		s.abortCopy(ctx, dst, up.UploadId)
	}
	return err
}

// abortCopy removes a failed multipart copy, with a deadline of its own
// (the session may be ending).
func (s *Store) abortCopy(ctx context.Context, key string, id *string) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := s.c.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &key, UploadId: id}); err != nil {
		s.log.Warn("abort S3 multipart copy", "key", key, "err", err)
	}
}

func withInstance(meta map[string]string, instance string) map[string]string {
	out := make(map[string]string, len(meta)+1)
	for k, v := range meta {
		out[k] = v
	}
	out[metaInstance] = instance
	return out
}
