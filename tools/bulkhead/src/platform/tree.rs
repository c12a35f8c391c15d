//! A device tree read into memory: nodes with their raw properties, and the
//! three lookups every question about a board needs: phandles, `#…-cells`
//! values and address translation through parent `ranges`.

use super::PlatformError;
use std::collections::HashMap;

/// One node: its full path, its name split at `@`, raw properties and
/// children (indices into [`Tree::nodes`]).
#[derive(Debug)]
pub struct Node {
    /// Full path, `/` for the root.
    pub path: String,
    /// Name without the unit address.
    pub name: String,
    /// Parent index; `None` for the root.
    pub parent: Option<usize>,
    /// Children, in file order.
    pub children: Vec<usize>,
    properties: Vec<(String, Vec<u8>)>,
}

impl Node {
    /// The raw value of property `name`.
    pub fn property(&self, name: &str) -> Option<&[u8]> {
        self.properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Whether the property exists (possibly empty, like `dma-coherent`).
    pub fn has(&self, name: &str) -> bool {
        self.property(name).is_some()
    }

    /// Property as big-endian 32-bit cells (a trailing partial cell is dropped).
    pub fn cells(&self, name: &str) -> Option<Vec<u32>> {
        self.property(name).map(|bytes| {
            bytes
                .chunks_exact(4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
    }

    /// First cell of a property.
    pub fn u32(&self, name: &str) -> Option<u32> {
        self.cells(name).and_then(|c| c.first().copied())
    }

    /// Property as a string list (NUL-separated).
    pub fn strings(&self, name: &str) -> Vec<String> {
        self.property(name)
            .map(|bytes| {
                bytes
                    .split(|b| *b == 0)
                    .filter(|s| !s.is_empty())
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// First string of a property.
    pub fn string(&self, name: &str) -> Option<String> {
        self.strings(name).into_iter().next()
    }

    /// Whether `status` is absent, `okay` or `ok`.
    pub fn enabled(&self) -> bool {
        matches!(
            self.string("status").as_deref(),
            None | Some("okay") | Some("ok")
        )
    }
}

/// The whole tree.
#[derive(Debug)]
pub struct Tree {
    /// All nodes; index 0 is the root.
    pub nodes: Vec<Node>,
    phandles: HashMap<u32, usize>,
}

/// Joins cells into one number (at most four cells are meaningful).
pub fn join(cells: &[u32]) -> u128 {
    cells
        .iter()
        .fold(0u128, |acc, c| (acc << 32) | u128::from(*c))
}

impl Tree {
    /// Reads a flattened device tree.
    pub fn parse(bytes: &[u8]) -> Result<Self, PlatformError> {
        let bad = |what: String| PlatformError::BadDtb(what);
        let fdt = fdt::Fdt::new_unaligned_fallible(bytes).map_err(|e| bad(format!("{e:?}")))?;
        let root = fdt.root().map_err(|e| bad(format!("{e:?}")))?;
        let mut tree = Tree {
            nodes: Vec::new(),
            phandles: HashMap::new(),
        };
        tree.add(fdt::nodes::AsNode::as_node(&root), None, String::from("/"))
            .map_err(|e| bad(format!("{e:?}")))?;
        Ok(tree)
    }

    fn add<'a, P: fdt::parsing::ParserWithMode<'a>>(
        &mut self,
        node: fdt::nodes::Node<'a, P>,
        parent: Option<usize>,
        path: String,
    ) -> Result<usize, fdt::FdtError> {
        let node = node.fallible();
        let full = node.name()?;
        let index = self.nodes.len();
        let mut properties = Vec::new();
        for property in node.properties()?.iter() {
            let property = property?;
            properties.push((property.name.to_string(), property.value.to_vec()));
        }
        self.nodes.push(Node {
            path: path.clone(),
            name: if parent.is_none() {
                String::from("/")
            } else {
                full.name.to_string()
            },
            parent,
            children: Vec::new(),
            properties,
        });
        for key in ["phandle", "linux,phandle"] {
            if let Some(handle) = self.nodes[index].u32(key) {
                self.phandles.entry(handle).or_insert(index);
            }
        }
        for child in node.children()?.iter() {
            let child = child?;
            let name = child.name()?.to_string();
            let child_path = if path == "/" {
                format!("/{name}")
            } else {
                format!("{path}/{name}")
            };
            let c = self.add(child, Some(index), child_path)?;
            self.nodes[index].children.push(c);
        }
        Ok(index)
    }

    /// The node a phandle names.
    pub fn by_phandle(&self, handle: u32) -> Option<usize> {
        self.phandles.get(&handle).copied()
    }

    /// The node at `path`.
    pub fn by_path(&self, path: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.path == path)
    }

    /// Resolves an alias name (from `/aliases`) to a node.
    pub fn alias(&self, name: &str) -> Option<usize> {
        let aliases = self.by_path("/aliases")?;
        let path = self.nodes[aliases].string(name)?;
        self.by_path(&path)
    }

    /// `#address-cells` of `node` (the default 2 when absent).
    pub fn address_cells(&self, node: usize) -> usize {
        self.nodes[node].u32("#address-cells").unwrap_or(2) as usize
    }

    /// `#size-cells` of `node` (the default 1 when absent).
    pub fn size_cells(&self, node: usize) -> usize {
        self.nodes[node].u32("#size-cells").unwrap_or(1) as usize
    }

    /// Whether `node` or any ancestor is disabled.
    pub fn enabled_with_ancestors(&self, mut node: usize) -> bool {
        loop {
            if !self.nodes[node].enabled() {
                return false;
            }
            match self.nodes[node].parent {
                Some(p) => node = p,
                None => return true,
            }
        }
    }

    /// The `reg` entries of `node` in its parent's address space, as
    /// `(address cells, size)`.
    pub fn raw_reg(&self, node: usize) -> Vec<(Vec<u32>, u128)> {
        let Some(parent) = self.nodes[node].parent else {
            return Vec::new();
        };
        let (ac, sc) = (self.address_cells(parent), self.size_cells(parent));
        let Some(cells) = self.nodes[node].cells("reg") else {
            return Vec::new();
        };
        if ac == 0 || ac + sc == 0 {
            return Vec::new();
        }
        cells
            .chunks_exact(ac + sc)
            .map(|entry| (entry[..ac].to_vec(), join(&entry[ac..])))
            .collect()
    }

    /// Translates an address in the address space of bus `bus` (the
    /// parent of the node that holds it) to a CPU physical address, through
    /// every `ranges` up to the root. `None` when some bus on the way has no
    /// `ranges` (I2C, SPI, MDIO, …) or no window covers the address.
    pub fn translate(&self, mut bus: usize, address: &[u32], size: u128) -> Option<u64> {
        let mut address_cells = address.to_vec();
        loop {
            let Some(parent) = self.nodes[bus].parent else {
                let address = join(&address_cells);
                return u64::try_from(address).ok().filter(|a| {
                    u64::try_from(size).is_ok_and(|s| a.checked_add(s.saturating_sub(1)).is_some())
                });
            };
            let ranges = self.nodes[bus].cells("ranges")?;
            let child_cells = self.address_cells(bus);
            let parent_cells = self.address_cells(parent);
            let size_cells = self.size_cells(bus);
            if ranges.is_empty() {
                // Identity mapping; re-express the address in the parent's width.
                let value = join(&address_cells);
                address_cells = split(value, parent_cells)?;
                bus = parent;
                continue;
            }
            let entry_len = child_cells + parent_cells + size_cells;
            if entry_len == 0 || address_cells.len() != child_cells {
                return None;
            }
            let pci = child_cells == 3;
            let wanted = key(&address_cells, pci);
            let mut translated = None;
            for entry in ranges.chunks_exact(entry_len) {
                let child_base = &entry[..child_cells];
                if pci && (child_base[0] >> 24) & 3 != (address_cells[0] >> 24) & 3 {
                    continue;
                }
                let base = key(child_base, pci);
                let parent_base = join(&entry[child_cells..child_cells + parent_cells]);
                let length = join(&entry[child_cells + parent_cells..]);
                if wanted >= base && wanted - base < length && wanted - base + size <= length {
                    translated = Some(parent_base + (wanted - base));
                    break;
                }
            }
            address_cells = split(translated?, parent_cells)?;
            bus = parent;
        }
    }

    /// The `reg` entries of `node` as CPU physical ranges; entries that do
    /// not translate are counted in the second value.
    pub fn reg(&self, node: usize) -> (Vec<(u64, u64)>, usize) {
        let Some(parent) = self.nodes[node].parent else {
            return (Vec::new(), 0);
        };
        let mut out = Vec::new();
        let mut failed = 0;
        for (address, size) in self.raw_reg(node) {
            match (self.translate(parent, &address, size), u64::try_from(size)) {
                (Some(base), Ok(size)) => out.push((base, size)),
                _ => failed += 1,
            }
        }
        (out, failed)
    }

    /// The node's outbound `ranges` windows as CPU physical ranges (for PCI
    /// host bridges, whose children's BARs live there).
    pub fn outbound_windows(&self, node: usize) -> Vec<(u64, u64)> {
        let Some(parent) = self.nodes[node].parent else {
            return Vec::new();
        };
        let Some(ranges) = self.nodes[node].cells("ranges") else {
            return Vec::new();
        };
        let child_cells = self.address_cells(node);
        let parent_cells = self.address_cells(parent);
        let size_cells = self.size_cells(node);
        let entry_len = child_cells + parent_cells + size_cells;
        if entry_len == 0 {
            return Vec::new();
        }
        ranges
            .chunks_exact(entry_len)
            .filter_map(|entry| {
                let size = join(&entry[child_cells + parent_cells..]);
                let base = self.translate(
                    parent,
                    &entry[child_cells..child_cells + parent_cells],
                    size,
                )?;
                Some((base, u64::try_from(size).ok()?))
            })
            .collect()
    }

    /// The interrupt parent of `node`.
    pub fn interrupt_parent(&self, node: usize) -> Option<usize> {
        // As the kernel finds it (of_irq_find_parent): the node's
        // `interrupt-parent`, else its parent in the tree, until a node
        // that takes interrupts (`#interrupt-cells`: a controller or an
        // interrupt-map nexus) is reached.
        let mut at = node;
        for _ in 0..self.nodes.len() {
            let next = match self.nodes[at].u32("interrupt-parent") {
                Some(handle) => self.by_phandle(handle)?,
                None => self.nodes[at].parent?,
            };
            if self.nodes[next].has("#interrupt-cells") {
                return Some(next);
            }
            at = next;
        }
        None
    }
}

/// The comparable part of a bus address: all cells, except for PCI
/// (three cells) where only the 64-bit address counts.
fn key(cells: &[u32], pci: bool) -> u128 {
    if pci {
        join(&cells[1..])
    } else {
        join(cells)
    }
}

/// Splits a number into `count` cells; `None` when it does not fit.
fn split(value: u128, count: usize) -> Option<Vec<u32>> {
    if count < 4 && value >> (32 * count) != 0 {
        return None;
    }
    Some(
        (0..count)
            .rev()
            .map(|i| (value >> (32 * i)) as u32)
            .collect(),
    )
}
