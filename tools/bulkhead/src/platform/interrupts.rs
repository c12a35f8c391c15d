//! Interrupt resolution: a node's `interrupts` (or `interrupts-extended`)
//! followed through `interrupt-parent` and any `interrupt-map` nexus to the
//! GIC, decoded into INTIDs with their trigger.

use super::tree::Tree;
use std::fmt;

pub use bsp::Trigger;

/// One resolved interrupt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// A GIC interrupt.
    Gic {
        /// The INTID.
        intid: u32,
        /// Its trigger.
        trigger: Trigger,
        /// The `interrupt-map` nexus it went through, if any.
        via: Option<String>,
    },
    /// An interrupt of another controller (a GPIO block, an interrupt
    /// combiner): the node path of that controller and the specifier.
    Other {
        /// Path of the controller.
        controller: usize,
        /// The specifier cells.
        specifier: Vec<u32>,
    },
    /// Something could not be followed (missing phandle, no map entry).
    Unresolved(String),
}

/// Whether `compatible` names a GICv3 (`Some(3)`) or GICv2-style (`Some(2)`)
/// distributor.
pub fn gic_version(compatible: &[String]) -> Option<u8> {
    const V3: &[&str] = &["arm,gic-v3"];
    const V2: &[&str] = &[
        "arm,gic-400",
        "arm,cortex-a15-gic",
        "arm,cortex-a9-gic",
        "arm,cortex-a7-gic",
        "arm,gic-v2",
        "arm,pl390",
        "qcom,msm-qgic2",
    ];
    if compatible.iter().any(|c| V3.contains(&c.as_str())) {
        Some(3)
    } else if compatible.iter().any(|c| V2.contains(&c.as_str())) {
        Some(2)
    } else {
        None
    }
}

/// Decodes a GIC specifier `<type number flags …>` into an INTID.
pub fn gic_intid(specifier: &[u32]) -> Option<(u32, Trigger)> {
    let (kind, number) = (*specifier.first()?, *specifier.get(1)?);
    let trigger = Trigger::from_flags(specifier.get(2).copied().unwrap_or(0));
    let intid = match kind {
        0 => 32 + number,
        1 => 16 + number,
        2 => 4096 + number, // extended SPI range
        3 => 1056 + number, // extended PPI range
        _ => return None,
    };
    Some((intid, trigger))
}

impl fmt::Display for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resolved::Gic { intid, .. } => write!(f, "INTID {intid}"),
            Resolved::Other { specifier, .. } => f.write_str(&specifier_text(specifier)),
            Resolved::Unresolved(why) => f.write_str(why),
        }
    }
}

/// Resolves interrupts against the tree's GIC.
pub struct Resolver<'t> {
    tree: &'t Tree,
    gic: usize,
}

impl<'t> Resolver<'t> {
    /// A resolver for interrupts that end at the GIC node `gic`.
    pub fn new(tree: &'t Tree, gic: usize) -> Self {
        Self { tree, gic }
    }

    /// Every interrupt of `node`, in order.
    pub fn node_interrupts(&self, node: usize) -> Vec<Resolved> {
        let n = &self.tree.nodes[node];
        let mut out = Vec::new();
        if let Some(cells) = n.cells("interrupts-extended") {
            let mut rest = cells.as_slice();
            while let Some((&handle, tail)) = rest.split_first() {
                let Some(parent) = self.tree.by_phandle(handle) else {
                    out.push(Resolved::Unresolved(format!(
                        "interrupts-extended names unknown phandle {handle:#x}"
                    )));
                    break;
                };
                let count = self.interrupt_cells(parent);
                if tail.len() < count {
                    break;
                }
                out.push(self.resolve(node, parent, &tail[..count], 0));
                rest = &tail[count..];
            }
            return out;
        }
        let Some(cells) = n.cells("interrupts") else {
            return out;
        };
        let Some(parent) = self.tree.interrupt_parent(node) else {
            out.push(Resolved::Unresolved(String::from(
                "interrupts without an interrupt-parent",
            )));
            return out;
        };
        let count = self.interrupt_cells(parent);
        if count == 0 {
            return out;
        }
        for specifier in cells.chunks_exact(count) {
            out.push(self.resolve(node, parent, specifier, 0));
        }
        out
    }

    fn interrupt_cells(&self, node: usize) -> usize {
        self.tree.nodes[node].u32("#interrupt-cells").unwrap_or(0) as usize
    }

    /// Follows `specifier` of child `child` at interrupt parent `parent`.
    fn resolve(&self, child: usize, parent: usize, specifier: &[u32], depth: u32) -> Resolved {
        if depth > 8 {
            return Resolved::Unresolved(String::from("interrupt-map nesting too deep"));
        }
        let p = &self.tree.nodes[parent];
        if p.has("interrupt-map") {
            return self.through_map(child, parent, specifier, depth);
        }
        if parent == self.gic {
            return match gic_intid(specifier) {
                Some((intid, trigger)) => Resolved::Gic {
                    intid,
                    trigger,
                    via: None,
                },
                None => {
                    Resolved::Unresolved(format!("bad GIC specifier {}", specifier_text(specifier)))
                }
            };
        }
        if let Some(below) = self.stacked_on(parent, specifier) {
            return self.resolve(parent, below, specifier, depth + 1);
        }
        Resolved::Other {
            controller: parent,
            specifier: specifier.to_vec(),
        }
    }

    /// The controller `controller` is stacked on, when it passes its
    /// children's specifiers through unchanged: a hierarchical interrupt
    /// controller (Tegra's `ictlr`, i.MX's GPC, …) has no interrupt line
    /// of its own (no `interrupts`), sits under a parent of the same
    /// `#interrupt-cells`, and each of its inputs is the parent's input
    /// of the same number. A cascaded controller (a GPIO block) has its
    /// own `interrupts` and is not stacked.
    fn stacked_on(&self, controller: usize, specifier: &[u32]) -> Option<usize> {
        let n = &self.tree.nodes[controller];
        if n.has("interrupts") || n.has("interrupts-extended") || n.has("interrupt-map") {
            return None;
        }
        let below = self
            .tree
            .interrupt_parent(controller)
            .filter(|&p| p != controller)?;
        (self.interrupt_cells(below) == specifier.len()).then_some(below)
    }

    /// Looks `specifier` of `child` up in nexus `nexus`'s `interrupt-map`.
    fn through_map(&self, child: usize, nexus: usize, specifier: &[u32], depth: u32) -> Resolved {
        let n = &self.tree.nodes[nexus];
        let unit_cells = n.u32("#address-cells").unwrap_or(0) as usize;
        let mut unit = self.tree.nodes[child]
            .cells("reg")
            .unwrap_or_default()
            .into_iter()
            .take(unit_cells)
            .collect::<Vec<_>>();
        unit.resize(unit_cells, 0);
        let mut wanted = unit;
        wanted.extend_from_slice(specifier);
        let entries = self.map_entries(nexus);
        let mask = n.cells("interrupt-map-mask");
        let masked = |cells: &[u32]| -> Vec<u32> {
            cells
                .iter()
                .enumerate()
                .map(|(i, c)| c & mask.as_ref().and_then(|m| m.get(i)).copied().unwrap_or(!0))
                .collect()
        };
        let wanted = masked(&wanted);
        for entry in entries {
            if masked(&entry.child) == wanted {
                return match self.resolve(nexus, entry.parent, &entry.specifier, depth + 1) {
                    Resolved::Gic {
                        intid,
                        trigger,
                        via: _,
                    } => Resolved::Gic {
                        intid,
                        trigger,
                        via: Some(n.path.clone()),
                    },
                    other => other,
                };
            }
        }
        Resolved::Unresolved(format!("no interrupt-map entry of {} matches", n.path))
    }

    /// The entries of `nexus`'s `interrupt-map`.
    pub fn map_entries(&self, nexus: usize) -> Vec<MapEntry> {
        let n = &self.tree.nodes[nexus];
        let child_len = n.u32("#address-cells").unwrap_or(0) as usize + self.interrupt_cells(nexus);
        let Some(map) = n.cells("interrupt-map") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut rest = map.as_slice();
        while rest.len() > child_len {
            let child = rest[..child_len].to_vec();
            let Some(parent) = self.tree.by_phandle(rest[child_len]) else {
                break;
            };
            let parent_unit = self.tree.nodes[parent].u32("#address-cells").unwrap_or(0) as usize;
            let parent_len = parent_unit + self.interrupt_cells(parent);
            let start = child_len + 1 + parent_unit;
            let end = child_len + 1 + parent_len;
            if rest.len() < end {
                break;
            }
            out.push(MapEntry {
                child,
                parent,
                specifier: rest[start..end].to_vec(),
            });
            rest = &rest[end..];
        }
        out
    }

    /// Resolves every target of `nexus`'s `interrupt-map` (for a PCI host
    /// bridge: its legacy INTx lines).
    pub fn map_targets(&self, nexus: usize) -> Vec<Resolved> {
        self.map_entries(nexus)
            .into_iter()
            .map(|e| self.resolve(nexus, e.parent, &e.specifier, 1))
            .collect()
    }
}

/// One `interrupt-map` row.
pub struct MapEntry {
    /// Child unit address and specifier.
    pub child: Vec<u32>,
    /// The parent controller.
    pub parent: usize,
    /// The specifier at the parent (without its unit address).
    pub specifier: Vec<u32>,
}

/// An interrupt specifier as a device tree source writes it: `<0x5 0x4>`.
pub fn specifier_text(specifier: &[u32]) -> String {
    let cells: Vec<String> = specifier.iter().map(|c| format!("{c:#x}")).collect();
    format!("<{}>", cells.join(" "))
}
