// gas-k8s-validate: offline schema check for rendered Kubernetes manifests.
//
// Reads multi-document YAML (files or stdin) and decodes every object in STRICT mode into
// the real Go API types of k8s.io/api (and the prometheus-operator monitoring/v1 types for
// ServiceMonitor / PrometheusRule, apiextensions/v1 for CustomResourceDefinitions; custom
// resources themselves are checked against their CRD's schema by tests/chart/chartlib.py).
// A document fails when:
//   - its apiVersion/kind is unknown (fail closed: no type, no check),
//   - it has a field the type does not define, a duplicate key, a value of the wrong type
//     (e.g. a string where an int is expected), or a malformed quantity,
//   - it misses a field the API server would reject at once: metadata.name, a container's
//     name or image, a Service port, a label selector on a workload.
//
// Exit status 0 when every document is valid, 1 otherwise (one line per problem).
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, autoscalingv2.AddToScheme,
		networkingv1.AddToScheme, policyv1.AddToScheme, rbacv1.AddToScheme, monitoringv1.AddToScheme,
		apiextensionsv1.AddToScheme, coordinationv1.AddToScheme, admissionregistrationv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
}

func validateDoc(s *runtime.Scheme, doc []byte) []string {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return []string{fmt.Sprintf("yaml: %v", err)}
	}
	if t := bytes.TrimSpace(js); len(t) == 0 || string(t) == "null" {
		return nil // empty document (e.g. a template that rendered nothing)
	}
	var h header
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(js, &h); err != nil {
		return []string{fmt.Sprintf("header: %v", err)}
	}
	id := fmt.Sprintf("%s/%s %q", h.APIVersion, h.Kind, h.Metadata.Name)
	if h.APIVersion == "" || h.Kind == "" {
		return []string{id + ": missing apiVersion or kind"}
	}
	gv, err := schema.ParseGroupVersion(h.APIVersion)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", id, err)}
	}
	obj, err := s.New(gv.WithKind(h.Kind))
	if err != nil {
		return []string{fmt.Sprintf("%s: unknown apiVersion/kind (no schema to check against)", id)}
	}
	var probs []string
	strictErrs, err := sigsjson.UnmarshalStrict(js, obj, sigsjson.DisallowUnknownFields)
	if err != nil {
		probs = append(probs, fmt.Sprintf("%s: %v", id, err))
	}
	for _, e := range strictErrs {
		probs = append(probs, fmt.Sprintf("%s: strict: %v", id, e))
	}
	if err == nil {
		for _, p := range semantic(obj) {
			probs = append(probs, fmt.Sprintf("%s: %s", id, p))
		}
	}
	return probs
}

func checkPod(where string, spec *corev1.PodSpec) []string {
	var p []string
	if len(spec.Containers) == 0 {
		p = append(p, where+": no containers")
	}
	all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for i, c := range all {
		if c.Name == "" {
			p = append(p, fmt.Sprintf("%s: container %d has no name", where, i))
		}
		if c.Image == "" {
			p = append(p, fmt.Sprintf("%s: container %q has no image", where, c.Name))
		}
	}
	return p
}

func checkSelector(where string, sel *metav1.LabelSelector, tmpl map[string]string) []string {
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		return []string{where + ": empty selector"}
	}
	for k, v := range sel.MatchLabels {
		if tmpl != nil && tmpl[k] != v {
			return []string{fmt.Sprintf("%s: selector %s=%s does not match the pod template labels", where, k, v)}
		}
	}
	return nil
}

func semantic(obj runtime.Object) []string {
	var p []string
	if m, ok := obj.(metav1.Object); ok && m.GetName() == "" {
		p = append(p, "metadata.name is required")
	}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		p = append(p, checkSelector("spec.selector", o.Spec.Selector, o.Spec.Template.Labels)...)
		p = append(p, checkPod("spec.template.spec", &o.Spec.Template.Spec)...)
	case *appsv1.StatefulSet:
		p = append(p, checkSelector("spec.selector", o.Spec.Selector, o.Spec.Template.Labels)...)
		p = append(p, checkPod("spec.template.spec", &o.Spec.Template.Spec)...)
	case *batchv1.Job:
		p = append(p, checkPod("spec.template.spec", &o.Spec.Template.Spec)...)
	case *corev1.Pod:
		p = append(p, checkPod("spec", &o.Spec)...)
	case *corev1.Service:
		if len(o.Spec.Ports) == 0 && o.Spec.ClusterIP != "None" {
			p = append(p, "spec.ports is required")
		}
	case *policyv1.PodDisruptionBudget:
		p = append(p, checkSelector("spec.selector", o.Spec.Selector, nil)...)
	case *autoscalingv2.HorizontalPodAutoscaler:
		if o.Spec.ScaleTargetRef.Name == "" || o.Spec.ScaleTargetRef.Kind == "" {
			p = append(p, "spec.scaleTargetRef needs kind and name")
		}
		if o.Spec.MaxReplicas < 1 {
			p = append(p, "spec.maxReplicas must be >= 1")
		}
	}
	return p
}

func readAll(name string, r io.Reader) ([]string, int) {
	s := newScheme()
	rd := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var probs []string
	n := 0
	for {
		doc, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			probs = append(probs, fmt.Sprintf("%s: read: %v", name, err))
			break
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		n++
		for _, pr := range validateDoc(s, doc) {
			probs = append(probs, name+": "+pr)
		}
	}
	return probs, n
}

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		args = []string{"-"}
	}
	var all []string
	total := 0
	for _, a := range args {
		var r io.Reader
		if a == "-" {
			r = os.Stdin
		} else {
			f, err := os.Open(a)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			defer f.Close()
			r = f
		}
		probs, n := readAll(a, r)
		all = append(all, probs...)
		total += n
	}
	if len(all) > 0 {
		fmt.Println(strings.Join(all, "\n"))
		fmt.Fprintf(os.Stderr, "gas-k8s-validate: %d problem(s) in %d object(s)\n", len(all), total)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "gas-k8s-validate: %d object(s) valid\n", total)
}
