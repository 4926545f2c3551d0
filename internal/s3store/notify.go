package s3store

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TopicNotification is a bucket event notification to an SNS topic, the
// part of it the app manages.
type TopicNotification struct {
	ID       string
	TopicARN string
	Events   []string // e.g. s3:ObjectCreated:*
	Prefix   string   // key prefix filter; "" = every key
}

// GetTopicNotifications returns the bucket's SNS topic notifications.
func (s *Store) GetTopicNotifications(ctx context.Context) ([]TopicNotification, error) {
	out, err := s.client.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: &s.bucket})
	if err != nil {
		return nil, fmt.Errorf("s3store: get notifications of %s: %w", s.bucket, err)
	}
	ns := make([]TopicNotification, 0, len(out.TopicConfigurations))
	for _, tc := range out.TopicConfigurations {
		n := TopicNotification{ID: aws.ToString(tc.Id), TopicARN: aws.ToString(tc.TopicArn)}
		for _, e := range tc.Events {
			n.Events = append(n.Events, string(e))
		}
		if tc.Filter != nil && tc.Filter.Key != nil {
			for _, r := range tc.Filter.Key.FilterRules {
				if r.Name == types.FilterRuleNamePrefix {
					n.Prefix = aws.ToString(r.Value)
				}
			}
		}
		ns = append(ns, n)
	}
	return ns, nil
}

// PutTopicNotification adds n to the bucket's notifications, or replaces
// the one with its ID; queue, Lambda and EventBridge settings and other
// topics are kept.
func (s *Store) PutTopicNotification(ctx context.Context, n TopicNotification) error {
	cur, err := s.client.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: &s.bucket})
	if err != nil {
		return fmt.Errorf("s3store: get notifications of %s: %w", s.bucket, err)
	}
	tc := types.TopicConfiguration{Id: aws.String(n.ID), TopicArn: aws.String(n.TopicARN)}
	for _, e := range n.Events {
		tc.Events = append(tc.Events, types.Event(e))
	}
	if n.Prefix != "" {
		tc.Filter = &types.NotificationConfigurationFilter{Key: &types.S3KeyFilter{
			FilterRules: []types.FilterRule{{Name: types.FilterRuleNamePrefix, Value: aws.String(n.Prefix)}},
		}}
	}
	topics := slices.DeleteFunc(slices.Clone(cur.TopicConfigurations), func(t types.TopicConfiguration) bool { return aws.ToString(t.Id) == n.ID })
	_, err = s.client.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: &s.bucket,
		NotificationConfiguration: &types.NotificationConfiguration{
			TopicConfigurations:          append(topics, tc),
			QueueConfigurations:          cur.QueueConfigurations,
			LambdaFunctionConfigurations: cur.LambdaFunctionConfigurations,
			EventBridgeConfiguration:     cur.EventBridgeConfiguration,
		},
	})
	if err != nil {
		return fmt.Errorf("s3store: put notifications of %s: %w", s.bucket, err)
	}
	return nil
}
