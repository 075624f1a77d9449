// What kube-apiserver's CEL validation of a VideoSdkToken costs, per object, with the validator
// kube-apiserver itself runs (k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel), for one
// or more versions of the CRD: the API server runs it at every create and again at every status
// write, so the figure, twice, is what each issued token costs it in CEL.
//
// It is not built with this crate: copy it into a Kubernetes source tree (the real-cluster kit's,
// v1.33) and run it there with Go:
//
//	cp benches/real-cluster/cel_cost_test.go \
//	   $K8S_SRC/staging/src/k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/zz_cel_cost_test.go
//	cd $K8S_SRC/staging/src/k8s.io/apiextensions-apiserver
//	VST_CRDS=$REPO/crds/videosdktokens.yaml,other.yaml VST_TTL=24h \
//	   go test -run '^$' -bench CelCost -benchmem ./pkg/apiserver/schema/cel/
//
// VST_CRDS: comma-separated CustomResourceDefinition files (their first version is used).
// VST_TTL: the token's spec.ttl (default 24h); VST_RENEW_BEFORE: its spec.renewBefore (unset by
// default). VST_UPDATE=1: validate as a status write does, against the stored token (the same
// spec) with ratcheting, as the status strategy of kube-apiserver v1.33 calls it; unset: as a
// create does. A benchmark fails if the token does not validate.
package cel

import (
	"context"
	"os"
	"strings"
	"testing"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/model"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/cel/common"
)

// celCostSchema reads a CRD file and returns the structural schema of its first version.
func celCostSchema(b *testing.B, path string) *schema.Structural {
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var crd apiextensions.CustomResourceDefinition
	if err := yaml.NewYAMLOrJSONDecoder(strings.NewReader(string(raw)), 4096).Decode(&crd); err != nil {
		b.Fatal(err)
	}
	var internal apiextensionsinternal.JSONSchemaProps
	if err := apiextensions.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(
		crd.Spec.Versions[0].Schema.OpenAPIV3Schema, &internal, nil); err != nil {
		b.Fatal(err)
	}
	s, err := schema.NewStructural(&internal)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkCelCost(b *testing.B) {
	ttl := os.Getenv("VST_TTL")
	if ttl == "" {
		ttl = "24h"
	}
	for _, path := range strings.Split(os.Getenv("VST_CRDS"), ",") {
		b.Run(path, func(b *testing.B) {
			s := celCostSchema(b, path)
			validator := NewValidator(s, true, celconfig.PerCallLimit)
			spec := map[string]interface{}{
				"issuerRef":   map[string]interface{}{"name": "issuer", "kind": "VideoSdkIssuer"},
				"permissions": []interface{}{"allow_join"},
				"ttl":         ttl,
			}
			if renewBefore := os.Getenv("VST_RENEW_BEFORE"); renewBefore != "" {
				spec["renewBefore"] = renewBefore
			}
			token := map[string]interface{}{
				"apiVersion": "videosdk.live/v1alpha1", "kind": "VideoSdkToken",
				"metadata": map[string]interface{}{"name": "tok-00001", "namespace": "bench"},
				"spec":     spec,
			}
			var stored map[string]interface{}
			if os.Getenv("VST_UPDATE") != "" {
				stored = runtime.DeepCopyJSON(token)
			}
			ctx := context.TODO()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var options []Option
				if stored != nil {
					options = append(options, WithRatcheting(common.NewCorrelatedObject(token, stored, &model.Structural{Structural: s})))
				}
				if errs, _ := validator.Validate(ctx, field.NewPath(""), s, token, stored, celconfig.RuntimeCELCostBudget, options...); len(errs) > 0 {
					b.Fatalf("the token does not validate: %v", errs)
				}
			}
		})
	}
}
