//! The `TagResult` of one article as Python objects: the only place `tag()` allocates any, once per
//! span and tag kept, sharing the `via`, weight and id objects the tables hold.

use crate::actors::ActorSummary;
use crate::article::Article;
use crate::topics::TopicScore;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyString, PyTuple, PyType};

/// An instance of a NamedTuple class, as `tuple.__new__(cls, items)` makes it (its Python-level
/// `__new__` is skipped, which is what the Python path does too).
fn named<const N: usize>(py: Python<'_>, cls: &Py<PyType>, items: [Py<PyAny>; N]) -> PyResult<Py<PyAny>> {
    // SAFETY: `cls` was checked to subclass tuple at build time, so its instances are tuples of N
    // slots; every slot is filled before the object is used.
    unsafe {
        let tp = cls.as_ptr() as *mut ffi::PyTypeObject;
        let alloc = (*tp).tp_alloc.unwrap_or(ffi::PyType_GenericAlloc);
        let obj = alloc(tp, N as ffi::Py_ssize_t);
        if obj.is_null() {
            return Err(PyErr::fetch(py));
        }
        for (i, item) in items.into_iter().enumerate() {
            ffi::PyTuple_SET_ITEM(obj, i as ffi::Py_ssize_t, item.into_ptr());
        }
        Ok(Bound::from_owned_ptr(py, obj).unbind())
    }
}

fn int(py: Python<'_>, value: i64) -> Py<PyAny> {
    value.into_pyobject(py).expect("int conversion").into_any().unbind()
}

fn float(py: Python<'_>, value: f64) -> Py<PyAny> {
    PyFloat::new(py, value).into_any().unbind()
}

fn tuple(py: Python<'_>, items: Vec<Py<PyAny>>) -> PyResult<Py<PyAny>> {
    Ok(PyTuple::new(py, items)?.into_any().unbind())
}

/// `text[start:end]` with Python's slice rules.
fn substring(py: Python<'_>, text: &Bound<'_, PyString>, start: i64, end: i64) -> PyResult<Py<PyAny>> {
    let len = text.len()? as i64;
    let clamp = |i: i64| if i < 0 { (i + len).max(0) } else { i.min(len) };
    let (start, end) = (clamp(start), clamp(end));
    // SAFETY: valid str and in-range indexes (an empty range gives "").
    unsafe {
        let obj = ffi::PyUnicode_Substring(text.as_ptr(), start as ffi::Py_ssize_t, end as ffi::Py_ssize_t);
        Ok(Bound::from_owned_ptr_or_err(py, obj)?.unbind())
    }
}

impl Article<'_, '_> {
    fn span(
        &self,
        py: Python<'_>,
        start: i64,
        end: i64,
        via: &Py<PyAny>,
        weight: &Py<PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let items = [
            int(py, start),
            int(py, end),
            substring(py, self.text, start, end)?,
            via.clone_ref(py),
            weight.clone_ref(py),
        ];
        named(py, &self.core.classes[0], items)
    }

    fn actor_tag(&self, py: Python<'_>, summary: &ActorSummary) -> PyResult<Py<PyAny>> {
        let entries = &self.actors.entries;
        let spans = summary
            .spans
            .iter()
            .map(|&(start, end, entry)| {
                self.span(py, start, end, &entries[entry].via, &entries[entry].weight_obj)
            })
            .collect::<PyResult<Vec<_>>>()?;
        let [id, name, kind, country] = &self.core.actors[summary.actor].info;
        let items = [
            id.clone_ref(py),
            name.clone_ref(py),
            kind.clone_ref(py),
            country.clone_ref(py),
            int(py, summary.mentions),
            float(py, summary.salience),
            float(py, summary.confidence),
            tuple(py, spans)?,
        ];
        named(py, &self.core.classes[1], items)
    }

    fn topic_tag(&self, py: Python<'_>, score: &TopicScore) -> PyResult<Py<PyAny>> {
        let rules = &self.core.topic_rules;
        let spans = score
            .evidence
            .iter()
            .map(|&(start, end, rule)| {
                self.span(py, start, end, &rules[rule].via_obj, &rules[rule].weight_obj)
            })
            .collect::<PyResult<Vec<_>>>()?;
        let topic = &self.core.topics[score.topic];
        let items = [
            topic.id_obj.clone_ref(py),
            topic.label.clone_ref(py),
            float(py, score.score),
            tuple(py, spans)?,
        ];
        named(py, &self.core.classes[2], items)
    }

    /// The `TagResult`: the tags, their ids and names, and the countries (see the module docstring
    /// of pipelines/tag_match.py: of countries, territories and persons, in tag order).
    pub fn result(
        &self,
        py: Python<'_>,
        actors: &[ActorSummary],
        topics: &[TopicScore],
    ) -> PyResult<Py<PyAny>> {
        let core = self.core;
        let mut countries: Vec<i64> = Vec::new();
        let mut country_objs: Vec<Py<PyAny>> = Vec::new();
        for summary in actors {
            let a = &core.actors[summary.actor];
            if a.adds_country && a.country >= 0 && !countries.contains(&a.country) {
                countries.push(a.country);
                country_objs.push(a.info[3].clone_ref(py));
            }
        }
        let actor_tags = actors.iter().map(|s| self.actor_tag(py, s)).collect::<PyResult<Vec<_>>>()?;
        let topic_tags = topics.iter().map(|s| self.topic_tag(py, s)).collect::<PyResult<Vec<_>>>()?;
        let actor_ids = actors.iter().map(|s| core.actors[s.actor].info[0].clone_ref(py)).collect();
        let actor_names = actors.iter().map(|s| core.actors[s.actor].info[1].clone_ref(py)).collect();
        let topic_ids = topics.iter().map(|s| core.topics[s.topic].id_obj.clone_ref(py)).collect();
        let items = [
            tuple(py, actor_tags)?,
            tuple(py, topic_tags)?,
            tuple(py, actor_ids)?,
            tuple(py, actor_names)?,
            tuple(py, country_objs)?,
            tuple(py, topic_ids)?,
            core.versions[0].clone_ref(py),
            core.versions[1].clone_ref(py),
        ];
        named(py, &core.classes[3], items)
    }
}
